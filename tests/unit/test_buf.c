#include "th.h"

#include "cdc/buf.h"

int main(void)
{
    cdc_buf_t b = CDC_BUF_INIT;
    cdc_buf_puts(&b, "abc");
    cdc_buf_putc(&b, '-');
    for (int i = 0; i < 100; i++)
        cdc_buf_printf(&b, "%d,", i);
    TH_CHECK(b.len == strlen(b.data));
    TH_CHECK(strncmp(b.data, "abc-0,1,2,", 10) == 0);
    cdc_buf_reset(&b);
    TH_CHECK_INT(b.len, 0);
    TH_CHECK_STR(b.data, "");
    char *s = cdc_buf_steal(&b);
    TH_CHECK_STR(s, "");
    TH_CHECK(b.data == NULL);
    free(s);
    cdc_buf_free(&b);
    TH_DONE();
}
