/*
 * Payloads of the date and time kinds parsed from PostgreSQL's ISO output
 * (and the decoder's literals): dates as days and times as microseconds
 * from the Unix epoch and midnight, intervals as total microseconds.
 */
#include "canon_int.h"

/* ---- dates and times -------------------------------------------------- */

/* Days from civil date (proleptic Gregorian), H. Hinnant's algorithm. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static bool read_uint(span_t s, size_t *i, int min_digits, int max_digits, int64_t *v)
{
    int n = 0;
    int64_t acc = 0;
    while (*i < s.n && n < max_digits && s.p[*i] >= '0' && s.p[*i] <= '9') {
        acc = acc * 10 + (s.p[*i] - '0');
        (*i)++;
        n++;
    }
    *v = acc;
    return n >= min_digits;
}

/* Trailing " BC" (PostgreSQL's era suffix); removed from @p s. */
static bool strip_bc(span_t *s)
{
    if (s->n >= 3 && strncasecmp(s->p + s->n - 3, " BC", 3) == 0) {
        s->n -= 3;
        return true;
    }
    return false;
}

static bool parse_date(span_t s, size_t *i, bool bc, int64_t *days)
{
    int64_t y, m, d;
    if (!read_uint(s, i, 1, 9, &y) || *i >= s.n || s.p[*i] != '-')
        return false;
    (*i)++;
    if (!read_uint(s, i, 1, 2, &m) || *i >= s.n || s.p[*i] != '-')
        return false;
    (*i)++;
    if (!read_uint(s, i, 1, 2, &d))
        return false;
    if (m < 1 || m > 12 || d < 1 || d > 31)
        return false;
    if (bc)
        y = 1 - y; /* 1 BC is year 0 */
    *days = days_from_civil(y, (unsigned)m, (unsigned)d);
    return true;
}

/* ":NN" at s.p[*i]: 1 when read into *v, 0 when no ':' is there, -1 when
 * the ':' is not followed by two digits. */
static inline int colon_2d(span_t s, size_t *i, int64_t *v)
{
    if (*i >= s.n || s.p[*i] != ':')
        return 0;
    (*i)++;
    return read_uint(s, i, 2, 2, v) ? 1 : -1;
}

/* HH:MM[:SS[.frac]] -> µs; fractions beyond µs round half up, as
 * PostgreSQL rounds on input. */
static bool parse_time(span_t s, size_t *i, int64_t *usec)
{
    int64_t h, mi, sec = 0, frac = 0;
    if (!read_uint(s, i, 1, 2, &h) || colon_2d(s, i, &mi) <= 0)
        return false;
    int has_sec = colon_2d(s, i, &sec);
    if (has_sec < 0)
        return false;
    if (has_sec && *i < s.n && s.p[*i] == '.') {
        (*i)++;
        int nd = 0;
        bool round_up = false;
        while (*i < s.n && s.p[*i] >= '0' && s.p[*i] <= '9') {
            if (nd < 6)
                frac = frac * 10 + (s.p[*i] - '0');
            else if (nd == 6)
                round_up = s.p[*i] >= '5';
            nd++;
            (*i)++;
        }
        if (nd == 0)
            return false;
        for (int k = nd; k < 6; k++)
            frac *= 10;
        if (round_up)
            frac++;
    }
    if (h > 24 || mi > 59 || sec > 60)
        return false;
    *usec = ((h * 60 + mi) * 60 + sec) * USEC_PER_SEC + frac;
    return true;
}

/* Z | +HH | +HH:MM | +HH:MM:SS | +HHMM -> seconds east of UTC. */
static bool parse_offset(span_t s, size_t *i, int64_t *east)
{
    if (*i < s.n && (s.p[*i] == 'Z' || s.p[*i] == 'z')) {
        (*i)++;
        *east = 0;
        return true;
    }
    if (*i >= s.n || (s.p[*i] != '+' && s.p[*i] != '-'))
        return false;
    int sign = s.p[*i] == '-' ? -1 : 1;
    (*i)++;
    int64_t h, m = 0, sec = 0;
    size_t start = *i;
    if (!read_uint(s, i, 1, 4, &h))
        return false;
    if (*i - start == 4) { /* +HHMM */
        m = h % 100;
        h /= 100;
    } else {
        int has_min = colon_2d(s, i, &m);
        if (has_min < 0 || (has_min && colon_2d(s, i, &sec) < 0))
            return false;
    }
    if (h > 15 || m > 59 || sec > 59)
        return false;
    *east = sign * (h * 3600 + m * 60 + sec);
    return true;
}

/* "infinity" or "-infinity" (any case) as its payload; false for others. */
static inline bool put_infinity(span_t s, cdc_buf_t *out)
{
    if (!span_ieq(s, "infinity") && !span_ieq(s, "-infinity"))
        return false;
    cdc_buf_append(out, s.p[0] == '-' ? "-infinity" : "infinity", s.p[0] == '-' ? 9 : 8);
    return true;
}

int canon_date(span_t s, cdc_buf_t *out)
{
    s = trim(s);
    if (put_infinity(s, out))
        return 0;
    bool bc = strip_bc(&s);
    size_t i = 0;
    int64_t days;
    if (!parse_date(s, &i, bc, &days) || i != s.n)
        return -1;
    canon_put_i64(out, days);
    return 0;
}

int canon_time(span_t s, bool tz, cdc_buf_t *out)
{
    s = trim(s);
    size_t i = 0;
    int64_t usec, east = 0;
    if (!parse_time(s, &i, &usec))
        return -1;
    if (tz && !parse_offset(s, &i, &east))
        return -1;
    if (i != s.n)
        return -1;
    canon_put_i64(out, usec);
    if (tz) {
        cdc_buf_putc(out, '@');
        canon_put_i64(out, east);
    }
    return 0;
}

int canon_timestamp(span_t s, bool tz, cdc_buf_t *out)
{
    s = trim(s);
    if (put_infinity(s, out))
        return 0;
    bool bc = strip_bc(&s);
    size_t i = 0;
    int64_t days, usec = 0, east = 0;
    if (!parse_date(s, &i, bc, &days))
        return -1;
    if (i < s.n && (s.p[i] == ' ' || s.p[i] == 'T' || s.p[i] == 't')) {
        i++;
        if (!parse_time(s, &i, &usec))
            return -1;
        if (i < s.n && s.p[i] == ' ')
            i++;
        if (i < s.n && !parse_offset(s, &i, &east))
            return -1;
    }
    if (i != s.n)
        return -1;
    /* timestamp without time zone ignores a written offset, as PostgreSQL's
     * input function does; timestamptz is an instant. */
    int64_t v = days * USEC_PER_DAY + usec - (tz ? east * USEC_PER_SEC : 0);
    canon_put_i64(out, v);
    return 0;
}

/* ---- interval --------------------------------------------------------- */

typedef __int128 i128;

static void put_i128(cdc_buf_t *out, i128 v)
{
    char tmp[48];
    size_t n = 0;
    bool neg = v < 0;
    unsigned __int128 u = neg ? (unsigned __int128)(-(v + 1)) + 1 : (unsigned __int128)v;
    do {
        tmp[n++] = (char)('0' + (int)(u % 10));
        u /= 10;
    } while (u);
    if (neg)
        cdc_buf_putc(out, '-');
    while (n)
        cdc_buf_putc(out, tmp[--n]);
}

/* A signed decimal with optional fraction, scaled by @p scale (µs per unit),
 * rounded to the microsecond. */
static bool read_scaled(span_t s, size_t *i, i128 scale, i128 *v)
{
    bool neg = false;
    if (*i < s.n && (s.p[*i] == '-' || s.p[*i] == '+'))
        neg = s.p[(*i)++] == '-';
    i128 ip = 0, fp = 0, fscale = 1;
    int nd = 0;
    while (*i < s.n && isdigit((unsigned char)s.p[*i])) {
        ip = ip * 10 + (s.p[(*i)++] - '0');
        nd++;
        if (nd > 30)
            return false;
    }
    if (*i < s.n && s.p[*i] == '.') {
        (*i)++;
        while (*i < s.n && isdigit((unsigned char)s.p[*i])) {
            if (fscale < (i128)1000000000000000000)
                fp = fp * 10 + (s.p[*i] - '0'), fscale *= 10;
            (*i)++;
            nd++;
        }
    }
    if (!nd)
        return false;
    i128 r = ip * scale + (fp * scale * 2 + fscale) / (fscale * 2);
    *v = neg ? -r : r;
    return true;
}

static const i128 US_DAY = (i128)86400 * 1000000;

static int canon_interval_iso(span_t s, i128 *total)
{
    size_t i = 1; /* after 'P' */
    bool in_time = false;
    while (i < s.n) {
        if (s.p[i] == 'T') {
            in_time = true;
            i++;
            continue;
        }
        i128 v;
        size_t save = i;
        /* Parse the number as µs-per-unit later: read with scale 1e6 and
         * divide by units below (keeps fractions for every designator). */
        if (!read_scaled(s, &i, 1000000, &v) || i >= s.n)
            return -1;
        (void)save;
        char u = s.p[i++];
        i128 mult; /* µs per unit */
        switch (u) {
        case 'Y': mult = in_time ? -1 : 12 * 30 * US_DAY; break;
        case 'M': mult = in_time ? (i128)60 * 1000000 : 30 * US_DAY; break;
        case 'W': mult = in_time ? -1 : 7 * US_DAY; break;
        case 'D': mult = in_time ? -1 : US_DAY; break;
        case 'H': mult = in_time ? (i128)3600 * 1000000 : -1; break;
        case 'S': mult = in_time ? 1000000 : -1; break;
        default: return -1;
        }
        if (mult < 0)
            return -1;
        *total += v * (mult / 1000000) + (v * (mult % 1000000)) / 1000000;
    }
    return 0;
}

/* PostgreSQL's "postgres" style: [@] N unit ... [+-]HH:MM:SS[.f] [ago]. */
static int canon_interval_pg(span_t s, i128 *total)
{
    size_t i = 0;
    bool ago = false;
    while (i < s.n) {
        while (i < s.n && isspace((unsigned char)s.p[i]))
            i++;
        if (i >= s.n)
            break;
        if (s.p[i] == '@') {
            i++;
            continue;
        }
        if (s.n - i >= 3 && strncasecmp(s.p + i, "ago", 3) == 0) {
            ago = true;
            i += 3;
            continue;
        }
        /* time part? look ahead for ':' before the next space */
        size_t k = i;
        while (k < s.n && !isspace((unsigned char)s.p[k]) && s.p[k] != ':')
            k++;
        if (k < s.n && s.p[k] == ':') {
            bool neg = false;
            if (s.p[i] == '-' || s.p[i] == '+')
                neg = s.p[i++] == '-';
            int64_t h, m, sec = 0;
            if (!read_uint(s, &i, 1, 9, &h) || i >= s.n || s.p[i] != ':')
                return -1;
            i++;
            if (!read_uint(s, &i, 1, 2, &m))
                return -1;
            i128 us = ((i128)h * 3600 + m * 60) * 1000000;
            if (i < s.n && s.p[i] == ':') {
                i++;
                i128 sv;
                if (!read_scaled(s, &i, 1000000, &sv))
                    return -1;
                us += sv;
                (void)sec;
            }
            *total += neg ? -us : us;
            continue;
        }
        i128 v;
        if (!read_scaled(s, &i, 1000000, &v))
            return -1;
        while (i < s.n && isspace((unsigned char)s.p[i]))
            i++;
        size_t w = i;
        while (i < s.n && isalpha((unsigned char)s.p[i]))
            i++;
        span_t unit = {s.p + w, i - w};
        i128 mult;
        if (unit.n >= 1 && (strncasecmp(unit.p, "year", 4) == 0 || span_ieq(unit, "y")))
            mult = 12 * 30 * US_DAY;
        else if (unit.n >= 3 && strncasecmp(unit.p, "mon", 3) == 0)
            mult = 30 * US_DAY;
        else if (unit.n >= 4 && strncasecmp(unit.p, "week", 4) == 0)
            mult = 7 * US_DAY;
        else if (unit.n >= 3 && strncasecmp(unit.p, "day", 3) == 0)
            mult = US_DAY;
        else if (unit.n >= 4 && strncasecmp(unit.p, "hour", 4) == 0)
            mult = (i128)3600 * 1000000;
        else if (unit.n >= 3 && strncasecmp(unit.p, "min", 3) == 0)
            mult = (i128)60 * 1000000;
        else if (unit.n >= 3 && strncasecmp(unit.p, "sec", 3) == 0)
            mult = 1000000;
        else if (unit.n == 0 && i == s.n && w == i)
            mult = 1; /* a bare number: microseconds (Debezium MicroDuration) */
        else
            return -1;
        if (mult == 1)
            *total += v / 1000000;
        else
            *total += v * (mult / 1000000) + (v * (mult % 1000000)) / 1000000;
    }
    if (ago)
        *total = -*total;
    return 0;
}

int canon_interval(span_t s, cdc_buf_t *out)
{
    s = trim(s);
    if (!s.n)
        return -1;
    i128 total = 0;
    int rc = (s.p[0] == 'P' || s.p[0] == 'p') ? canon_interval_iso(s, &total)
                                              : canon_interval_pg(s, &total);
    if (rc)
        return -1;
    put_i128(out, total);
    return 0;
}
