/*
 * Frames (tag | LEB128 length | payload): writing them around a payload
 * made in place, and reading them back (cdc_canon_frame()). The integer
 * payloads are inline in canon_int.h (the binary scan's hot path).
 */
#include "canon_int.h"

void canon_frame_from(cdc_buf_t *out, size_t start, char tag)
{
    size_t plen = out->len - start;
    unsigned char hdr[CANON_HDR_MAX];
    size_t hn = canon_frame_header(hdr, tag, plen);
    cdc_buf_reserve(out, hn);
    memmove(out->data + start + hn, out->data + start, plen);
    memcpy(out->data + start, hdr, hn);
    out->len += hn;
    out->data[out->len] = '\0';
}

size_t cdc_canon_frame(const unsigned char *p, size_t avail, unsigned char *tag,
                       const unsigned char **payload, size_t *plen)
{
    if (!avail)
        return 0;
    *tag = p[0];
    if (p[0] == CANON_TAG_NULL) {
        *payload = p + 1;
        *plen = 0;
        return 1;
    }
    size_t i = 1, v = 0;
    int shift = 0;
    for (;;) {
        if (i >= avail || shift > 56)
            return 0;
        unsigned char c = p[i++];
        v |= (size_t)(c & 0x7f) << shift;
        shift += 7;
        if (!(c & 0x80))
            break;
    }
    if (avail - i < v)
        return 0;
    *payload = p + i;
    *plen = v;
    return i + v;
}
