/* Strict JSON parser and JSON writing into pn_buf; see json.h for the contract. */
#include "format/json.h"
#include "core/alloc.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Locale-independent number conversion ---------------------------------- */

/* strtod and printf follow LC_NUMERIC, so an application running under de_DE
 * would read "0.5" as 0 and write "0,5". We switch the calling thread to a
 * private "C" locale around each conversion (uselocale is per-thread, so other
 * threads are unaffected). The locale object lives for the whole process. */
static locale_t c_numeric_locale;
static pthread_once_t c_numeric_once = PTHREAD_ONCE_INIT;

static void create_c_numeric_locale(void) { c_numeric_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0); }

/* Switch this thread to the C numeric locale; returns the previous locale to
 * restore, or (locale_t)0 if the C locale could not be created. */
static locale_t enter_c_locale(void)
{
    pthread_once(&c_numeric_once, create_c_numeric_locale);
    if (c_numeric_locale == (locale_t)0)
        return (locale_t)0;
    return uselocale(c_numeric_locale);
}

static void leave_c_locale(locale_t previous) { uselocale(previous); }

/* ---- UTF-8 ------------------------------------------------------------------ */

/* Length of the well-formed UTF-8 sequence at s (at most `avail` bytes), or 0 if
 * it is malformed: overlong forms, surrogates (U+D800..DFFF) and code points
 * above U+10FFFF are rejected, per RFC 3629. */
static size_t utf8_sequence_length(const unsigned char *s, size_t avail)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        return (avail >= 2 && (s[1] & 0xC0) == 0x80) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        unsigned char lo = (c == 0xE0) ? 0xA0 : 0x80;
        unsigned char hi = (c == 0xED) ? 0x9F : 0xBF;
        if (avail < 3 || s[1] < lo || s[1] > hi || (s[2] & 0xC0) != 0x80)
            return 0;
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        unsigned char lo = (c == 0xF0) ? 0x90 : 0x80;
        unsigned char hi = (c == 0xF4) ? 0x8F : 0xBF;
        if (avail < 4 || s[1] < lo || s[1] > hi || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
            return 0;
        return 4;
    }
    return 0;
}

static size_t utf8_encode(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* ---- Parser ----------------------------------------------------------------- */

typedef struct parser {
    const unsigned char *s;
    size_t len;
    size_t pos;
    const char *label;
    size_t nodes;
} parser;

static pneumo_status parse_value(parser *p, pn_json *out, int depth);

static pneumo_status syntax_error(const parser *p, size_t at, const char *reason)
{
    return pn_error(PNEUMO_ERR_FORMAT, "%s: JSON error at byte %zu: %s", p->label, at, reason);
}

static pneumo_status parser_nomem(const parser *p, size_t bytes)
{
    return pn_error(PNEUMO_ERR_NOMEM, "%s: JSON: cannot allocate %zu bytes", p->label, bytes);
}

static void skip_whitespace(parser *p)
{
    while (p->pos < p->len) {
        unsigned char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        p->pos++;
    }
}

static int at_end(const parser *p) { return p->pos >= p->len; }

static int peek(const parser *p) { return at_end(p) ? -1 : p->s[p->pos]; }

static int is_digit(int c) { return c >= '0' && c <= '9'; }

/* Every value counts against PN_JSON_MAX_NODES before it is allocated. */
static pneumo_status count_node(parser *p)
{
    if (++p->nodes > PN_JSON_MAX_NODES)
        return pn_error(PNEUMO_ERR_LIMIT, "%s: JSON error at byte %zu: more than %d values in the document",
                        p->label, p->pos, PN_JSON_MAX_NODES);
    return PNEUMO_OK;
}

static pneumo_status parse_literal(parser *p, pn_json *out)
{
    static const struct {
        const char *word;
        pn_json_type type;
        int boolean;
    } literals[] = {{"true", PN_JSON_BOOL, 1}, {"false", PN_JSON_BOOL, 0}, {"null", PN_JSON_NULL, 0}};
    for (size_t i = 0; i < sizeof literals / sizeof literals[0]; i++) {
        size_t n = strlen(literals[i].word);
        if (p->len - p->pos >= n && memcmp(p->s + p->pos, literals[i].word, n) == 0) {
            out->type = literals[i].type;
            out->boolean = literals[i].boolean;
            p->pos += n;
            return PNEUMO_OK;
        }
    }
    return syntax_error(p, p->pos,
                        "unexpected character (NaN, Infinity and bare words "
                        "are not JSON)");
}

/* Exact int64 value of an integer literal of `n` bytes, optionally with '-';
 * returns 0 if it does not fit. */
static int integer_literal_value(const unsigned char *t, size_t n, int64_t *out)
{
    int negative = (t[0] == '-');
    uint64_t limit = negative ? (uint64_t)INT64_MAX + 1u : (uint64_t)INT64_MAX;
    uint64_t v = 0;
    for (size_t i = (size_t)negative; i < n; i++) {
        unsigned d = (unsigned)(t[i] - '0');
        if (v > (limit - d) / 10u)
            return 0;
        v = v * 10u + d;
    }
    if (negative)
        *out = (v == (uint64_t)INT64_MAX + 1u) ? INT64_MIN : -(int64_t)v;
    else
        *out = (int64_t)v;
    return 1;
}

/* Convert the validated number text t[0..n) with strtod in the C locale. The
 * input is not NUL-terminated, so the text is copied first. */
static pneumo_status convert_number(parser *p, size_t start, size_t n, double *out)
{
    char small[64];
    char *copy = small;
    if (n >= sizeof small) {
        copy = pn_malloc(n + 1);
        if (!copy)
            return parser_nomem(p, n + 1);
    }
    memcpy(copy, p->s + start, n);
    copy[n] = '\0';

    locale_t previous = enter_c_locale();
    if (previous == (locale_t)0) {
        if (copy != small)
            free(copy);
        return pn_error(PNEUMO_ERR_NOMEM, "%s: JSON: cannot create the C numeric locale", p->label);
    }
    char *end = NULL;
    errno = 0;
    double v = strtod(copy, &end);
    int overflow = (errno == ERANGE && isinf(v));
    int complete = (end == copy + n);
    leave_c_locale(previous);
    if (copy != small)
        free(copy);

    if (!complete)
        return syntax_error(p, start, "malformed number");
    if (overflow)
        return syntax_error(p, start, "number out of range of double");
    *out = v;
    return PNEUMO_OK;
}

/* number = [ "-" ] ( "0" / [1-9] *DIGIT ) [ "." 1*DIGIT ] [ ( "e" / "E" ) [ "+" / "-" ] 1*DIGIT ] */
static pneumo_status parse_number(parser *p, pn_json *out)
{
    size_t start = p->pos;
    int integral = 1;
    if (peek(p) == '-')
        p->pos++;
    if (peek(p) == '0') {
        p->pos++;
        if (is_digit(peek(p)))
            return syntax_error(p, start, "leading zero in number");
    } else if (is_digit(peek(p))) {
        while (is_digit(peek(p)))
            p->pos++;
    } else {
        return syntax_error(p, start, "'-' not followed by a digit");
    }
    if (peek(p) == '.') {
        integral = 0;
        p->pos++;
        if (!is_digit(peek(p)))
            return syntax_error(p, p->pos, "expected a digit after the decimal point");
        while (is_digit(peek(p)))
            p->pos++;
    }
    if (peek(p) == 'e' || peek(p) == 'E') {
        integral = 0;
        p->pos++;
        if (peek(p) == '+' || peek(p) == '-')
            p->pos++;
        if (!is_digit(peek(p)))
            return syntax_error(p, p->pos, "expected a digit in the exponent");
        while (is_digit(peek(p)))
            p->pos++;
    }

    out->type = PN_JSON_NUMBER;
    size_t n = p->pos - start;
    if (integral)
        out->is_integer = integer_literal_value(p->s + start, n, &out->integer);
    return convert_number(p, start, n, &out->number);
}

static int hex_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Read the four hex digits after "\u" at p->pos. */
static pneumo_status read_hex4(parser *p, uint32_t *out)
{
    uint32_t v = 0;
    if (p->len - p->pos < 4)
        return syntax_error(p, p->pos, "truncated \\u escape");
    for (int i = 0; i < 4; i++) {
        int h = hex_value(p->s[p->pos + (size_t)i]);
        if (h < 0)
            return syntax_error(p, p->pos + (size_t)i, "invalid hex digit in \\u escape");
        v = v * 16u + (uint32_t)h;
    }
    p->pos += 4;
    *out = v;
    return PNEUMO_OK;
}

/* Decode a \u escape (p->pos just after the 'u'), combining a surrogate pair
 * into one code point. Lone or mismatched surrogates are errors. */
static pneumo_status decode_unicode_escape(parser *p, size_t escape_at, uint32_t *cp)
{
    uint32_t hi;
    pneumo_status st = read_hex4(p, &hi);
    if (st != PNEUMO_OK)
        return st;
    if (hi >= 0xDC00 && hi <= 0xDFFF)
        return syntax_error(p, escape_at, "unpaired low surrogate in \\u escape");
    if (hi >= 0xD800 && hi <= 0xDBFF) {
        if (p->len - p->pos < 2 || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u')
            return syntax_error(p, escape_at, "high surrogate not followed by a low surrogate");
        p->pos += 2;
        uint32_t lo;
        st = read_hex4(p, &lo);
        if (st != PNEUMO_OK)
            return st;
        if (lo < 0xDC00 || lo > 0xDFFF)
            return syntax_error(p, escape_at, "high surrogate not followed by a low surrogate");
        *cp = 0x10000u + ((hi - 0xD800u) << 10) + (lo - 0xDC00u);
        return PNEUMO_OK;
    }
    if (hi == 0)
        return syntax_error(p, escape_at, "\\u0000 is not allowed (it would truncate the string)");
    *cp = hi;
    return PNEUMO_OK;
}

/* Decode the escape sequence at p->pos (the backslash) into dst; *n gets the
 * number of bytes written. */
static pneumo_status decode_escape(parser *p, char *dst, size_t *n)
{
    size_t escape_at = p->pos;
    p->pos++; /* backslash */
    if (at_end(p))
        return syntax_error(p, escape_at, "unterminated string");
    int c = p->s[p->pos++];
    char simple;
    switch (c) {
    case '"': simple = '"'; break;
    case '\\': simple = '\\'; break;
    case '/': simple = '/'; break;
    case 'b': simple = '\b'; break;
    case 'f': simple = '\f'; break;
    case 'n': simple = '\n'; break;
    case 'r': simple = '\r'; break;
    case 't': simple = '\t'; break;
    case 'u': {
        uint32_t cp = 0;
        pneumo_status st = decode_unicode_escape(p, escape_at, &cp);
        if (st != PNEUMO_OK)
            return st;
        *n = utf8_encode(cp, dst);
        return PNEUMO_OK;
    }
    default: return syntax_error(p, escape_at, "invalid escape sequence");
    }
    dst[0] = simple;
    *n = 1;
    return PNEUMO_OK;
}

/* Parse a string at p->pos (the opening quote) into a fresh NUL-terminated
 * buffer. Decoding never lengthens the text (the longest expansion, \uXXXX to
 * 3 bytes, shrinks), so the raw span bounds the allocation. */
static pneumo_status parse_string_raw(parser *p, char **out, size_t *out_len)
{
    size_t open = p->pos;
    size_t close = open + 1;
    while (close < p->len && p->s[close] != '"') {
        if (p->s[close] == '\\')
            close++;
        close++;
    }
    if (close >= p->len)
        return syntax_error(p, open, "unterminated string");

    size_t cap = close - open; /* raw content length + 1 for the NUL */
    char *buf = pn_malloc(cap);
    if (!buf)
        return parser_nomem(p, cap);
    size_t n = 0;
    p->pos = open + 1;
    while (p->pos < close) {
        unsigned char c = p->s[p->pos];
        pneumo_status st = PNEUMO_OK;
        if (c == '\\') {
            size_t w = 0;
            st = decode_escape(p, buf + n, &w);
            n += w;
        } else if (c < 0x20) {
            st = syntax_error(p, p->pos, "unescaped control character in string");
        } else {
            size_t w = utf8_sequence_length(p->s + p->pos, close - p->pos);
            if (w == 0) {
                st = syntax_error(p, p->pos, "invalid UTF-8 in string");
            } else {
                memcpy(buf + n, p->s + p->pos, w);
                n += w;
                p->pos += w;
            }
        }
        if (st != PNEUMO_OK) {
            free(buf);
            return st;
        }
    }
    p->pos = close + 1;
    buf[n] = '\0';
    *out = buf;
    *out_len = n;
    return PNEUMO_OK;
}

/* Make room for one more member in an array or object (geometric growth). */
static pneumo_status grow_members(parser *p, pn_json *node, size_t *cap)
{
    size_t items_cap = *cap, keys_cap = *cap;
    if (!pn_array_reserve(&node->items, &items_cap, node->count + 1, sizeof *node->items, SIZE_MAX))
        return parser_nomem(p, (node->count + 1) * sizeof *node->items);
    if (node->type == PN_JSON_OBJECT &&
        !pn_array_reserve(&node->keys, &keys_cap, node->count + 1, sizeof *node->keys, SIZE_MAX))
        return parser_nomem(p, (node->count + 1) * sizeof *node->keys);
    *cap = items_cap;
    return PNEUMO_OK;
}

static pneumo_status parse_array(parser *p, pn_json *out, int depth)
{
    size_t cap = 0;
    out->type = PN_JSON_ARRAY;
    p->pos++; /* '[' */
    skip_whitespace(p);
    if (peek(p) == ']') {
        p->pos++;
        return PNEUMO_OK;
    }
    for (;;) {
        pneumo_status st = grow_members(p, out, &cap);
        if (st != PNEUMO_OK)
            return st;
        /* Count the slot before filling it so a failure inside frees it too. */
        pn_json *item = &out->items[out->count++];
        memset(item, 0, sizeof *item);
        st = parse_value(p, item, depth + 1);
        if (st != PNEUMO_OK)
            return st;
        skip_whitespace(p);
        int c = peek(p);
        if (c == ',') {
            p->pos++;
            skip_whitespace(p);
            if (peek(p) == ']')
                return syntax_error(p, p->pos, "trailing comma in array");
        } else if (c == ']') {
            p->pos++;
            return PNEUMO_OK;
        } else {
            return syntax_error(p, p->pos, c < 0 ? "unterminated array" : "expected ',' or ']' in array");
        }
    }
}

static int compare_key_pointers(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Reject an object with two equal keys: readers disagree on which one wins, so a
 * hostile file could mean different things to different tools. Sorting copies of
 * the key pointers keeps this O(n log n) for huge objects. */
static pneumo_status check_duplicate_keys(parser *p, const pn_json *obj, size_t obj_start)
{
    if (obj->count < 2)
        return PNEUMO_OK;
    const char **sorted = pn_malloc(obj->count * sizeof *sorted);
    if (!sorted)
        return parser_nomem(p, obj->count * sizeof *sorted);
    memcpy(sorted, obj->keys, obj->count * sizeof *sorted);
    qsort(sorted, obj->count, sizeof *sorted, compare_key_pointers);
    pneumo_status st = PNEUMO_OK;
    for (size_t i = 1; i < obj->count; i++) {
        if (strcmp(sorted[i - 1], sorted[i]) == 0) {
            st = pn_error(PNEUMO_ERR_FORMAT, "%s: JSON error at byte %zu: duplicate key \"%.64s\" in object",
                          p->label, obj_start, sorted[i]);
            break;
        }
    }
    free(sorted);
    return st;
}

static pneumo_status parse_object(parser *p, pn_json *out, int depth)
{
    size_t cap = 0;
    size_t start = p->pos;
    out->type = PN_JSON_OBJECT;
    p->pos++; /* '{' */
    skip_whitespace(p);
    if (peek(p) == '}') {
        p->pos++;
        return PNEUMO_OK;
    }
    for (;;) {
        if (peek(p) != '"')
            return syntax_error(p, p->pos,
                                at_end(p) ? "unterminated object" : "expected a string key in object");
        char *key;
        size_t key_len;
        pneumo_status st = parse_string_raw(p, &key, &key_len);
        if (st != PNEUMO_OK)
            return st;
        st = grow_members(p, out, &cap);
        if (st != PNEUMO_OK) {
            free(key);
            return st;
        }
        out->keys[out->count] = key;
        pn_json *value = &out->items[out->count++];
        memset(value, 0, sizeof *value);

        skip_whitespace(p);
        if (peek(p) != ':')
            return syntax_error(p, p->pos, "expected ':' after object key");
        p->pos++;
        st = parse_value(p, value, depth + 1);
        if (st != PNEUMO_OK)
            return st;
        skip_whitespace(p);
        int c = peek(p);
        if (c == ',') {
            p->pos++;
            skip_whitespace(p);
            if (peek(p) == '}')
                return syntax_error(p, p->pos, "trailing comma in object");
        } else if (c == '}') {
            p->pos++;
            return check_duplicate_keys(p, out, start);
        } else {
            return syntax_error(p, p->pos, c < 0 ? "unterminated object" : "expected ',' or '}' in object");
        }
    }
}

/* Parse one value (after optional whitespace) into *out, which the caller has
 * zeroed. On failure *out may be partly built; pn_json contents stay freeable. */
static pneumo_status parse_value(parser *p, pn_json *out, int depth)
{
    skip_whitespace(p);
    if (at_end(p))
        return syntax_error(p, p->pos, "unexpected end of input, expected a value");
    pneumo_status st = count_node(p);
    if (st != PNEUMO_OK)
        return st;
    int c = peek(p);
    if (c == '[' || c == '{') {
        if (depth >= PN_JSON_MAX_DEPTH)
            return pn_error(PNEUMO_ERR_LIMIT, "%s: JSON error at byte %zu: nesting deeper than %d levels",
                            p->label, p->pos, PN_JSON_MAX_DEPTH);
        return c == '[' ? parse_array(p, out, depth) : parse_object(p, out, depth);
    }
    if (c == '"') {
        out->type = PN_JSON_STRING;
        return parse_string_raw(p, &out->string, &out->length);
    }
    if (c == '-' || is_digit(c))
        return parse_number(p, out);
    return parse_literal(p, out);
}

/* Free what a node owns, not the node itself (nodes live inside arrays). */
static void free_contents(pn_json *j)
{
    free(j->string);
    for (size_t i = 0; i < j->count; i++) {
        free_contents(&j->items[i]);
        if (j->keys)
            free(j->keys[i]);
    }
    free(j->items);
    free(j->keys);
}

void pn_json_free(pn_json *j)
{
    if (!j)
        return;
    free_contents(j);
    free(j);
}

pneumo_status pn_json_parse(const char *text, size_t len, const char *label, pn_json **out)
{
    if (!label)
        label = "JSON";
    if (!out)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: pn_json_parse: out is NULL", label);
    *out = NULL;
    if (!text && len > 0)
        return pn_error(PNEUMO_ERR_INVALID_ARG, "%s: pn_json_parse: text is NULL", label);

    parser p = {(const unsigned char *)text, len, 0, label, 0};
    pn_json *root = pn_calloc(1, sizeof *root);
    if (!root)
        return parser_nomem(&p, sizeof *root);
    pneumo_status st = parse_value(&p, root, 0);
    if (st == PNEUMO_OK) {
        skip_whitespace(&p);
        if (!at_end(&p))
            st = syntax_error(&p, p.pos,
                              p.s[p.pos] == '\0' ? "NUL byte after the value"
                                                 : "unexpected data after the value");
    }
    if (st != PNEUMO_OK) {
        pn_json_free(root);
        return st;
    }
    *out = root;
    return PNEUMO_OK;
}

/* ---- Accessors -------------------------------------------------------------- */

const pn_json *pn_json_get(const pn_json *obj, const char *key)
{
    if (!obj || !key || obj->type != PN_JSON_OBJECT)
        return NULL;
    for (size_t i = 0; i < obj->count; i++)
        if (strcmp(obj->keys[i], key) == 0)
            return &obj->items[i];
    return NULL;
}

const pn_json *pn_json_item(const pn_json *arr, size_t i)
{
    if (!arr || (arr->type != PN_JSON_ARRAY && arr->type != PN_JSON_OBJECT) || i >= arr->count)
        return NULL;
    return &arr->items[i];
}

int pn_json_int64(const pn_json *node, int64_t *out)
{
    if (!node || node->type != PN_JSON_NUMBER)
        return 0;
    if (node->is_integer) {
        *out = node->integer;
        return 1;
    }
    /* 2^53: beyond it a double no longer tells which integer was written. */
    const double exact_limit = 9007199254740992.0;
    double v = node->number;
    if (v != floor(v) || fabs(v) > exact_limit)
        return 0;
    *out = (int64_t)v;
    return 1;
}

int pn_json_get_int64(const pn_json *obj, const char *key, int64_t *out)
{
    return pn_json_int64(pn_json_get(obj, key), out);
}

int pn_json_get_number(const pn_json *obj, const char *key, double *out)
{
    const pn_json *v = pn_json_get(obj, key);
    if (!v || v->type != PN_JSON_NUMBER)
        return 0;
    *out = v->number;
    return 1;
}

int pn_json_get_bool(const pn_json *obj, const char *key, int *out)
{
    const pn_json *v = pn_json_get(obj, key);
    if (!v || v->type != PN_JSON_BOOL)
        return 0;
    *out = v->boolean;
    return 1;
}

const char *pn_json_get_string(const pn_json *obj, const char *key)
{
    const pn_json *v = pn_json_get(obj, key);
    return (v && v->type == PN_JSON_STRING) ? v->string : NULL;
}

/* ---- Writer ----------------------------------------------------------------- */

void pn_buf_json_string(pn_buf *b, const char *s)
{
    if (b->failed)
        return;
    if (!s) {
        b->failed = PN_BUF_BADINPUT;
        return;
    }
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s);
    pn_buf_append(b, "\"", 1);
    size_t i = 0;
    while (i < n && !b->failed) {
        /* Copy the longest run that needs no escaping in one append. */
        size_t run = i;
        while (run < n && u[run] >= 0x20 && u[run] != '"' && u[run] != '\\') {
            size_t w = utf8_sequence_length(u + run, n - run);
            if (w == 0) {
                b->failed = PN_BUF_BADINPUT;
                return;
            }
            run += w;
        }
        pn_buf_append(b, s + i, run - i);
        i = run;
        if (i >= n)
            break;
        switch (u[i]) {
        case '"': pn_buf_append(b, "\\\"", 2); break;
        case '\\': pn_buf_append(b, "\\\\", 2); break;
        case '\b': pn_buf_append(b, "\\b", 2); break;
        case '\f': pn_buf_append(b, "\\f", 2); break;
        case '\n': pn_buf_append(b, "\\n", 2); break;
        case '\r': pn_buf_append(b, "\\r", 2); break;
        case '\t': pn_buf_append(b, "\\t", 2); break;
        default: pn_buf_printf(b, "\\u%04x", (unsigned)u[i]); break;
        }
        i++;
    }
    pn_buf_append(b, "\"", 1);
}

/* Whether `text` reads back as exactly x (after rounding to float if as_float).
 * Must run inside enter_c_locale. */
static int round_trips(const char *text, double x, int as_float)
{
    double back = strtod(text, NULL);
    return as_float ? ((float)back == (float)x) : (back == x);
}

/* Format x with the fewest significant digits (up to max_digits) that read back
 * to the same value; `as_float` compares after rounding to float. Runs in the C
 * locale so the decimal separator is always '.'. */
static void append_shortest(pn_buf *b, double x, int max_digits, int as_float)
{
    if (b->failed)
        return;
    if (!isfinite(x)) {
        b->failed = PN_BUF_BADINPUT;
        return;
    }
    locale_t previous = enter_c_locale();
    if (previous == (locale_t)0) {
        b->failed = PN_BUF_NOMEM;
        return;
    }
    char text[40];
    int digits;
    for (digits = 1; digits <= max_digits; digits++) {
        snprintf(text, sizeof text, "%.*g", digits, x);
        if (round_trips(text, x, as_float))
            break;
    }
    /* %g switches to exponent form once the exponent reaches the precision
     * ("1.25e+03"); print such moderate values positionally ("1250") when that
     * still reads back exactly. */
    char *e = strchr(text, 'e');
    if (e && digits <= max_digits) {
        long exponent = strtol(e + 1, NULL, 10);
        if (exponent >= digits && exponent < max_digits) {
            char plain[40];
            snprintf(plain, sizeof plain, "%.*g", (int)exponent + 1, x);
            if (round_trips(plain, x, as_float))
                memcpy(text, plain, sizeof text);
        }
    }
    leave_c_locale(previous);
    /* Belt and braces: if the locale switch ever failed silently, never emit a
     * ',' decimal separator into JSON. */
    for (char *c = text; *c; c++)
        if (*c == ',')
            *c = '.';
    pn_buf_append(b, text, strlen(text));
}

void pn_buf_json_number(pn_buf *b, double x) { append_shortest(b, x, 17, 0); }

void pn_buf_json_float(pn_buf *b, float x) { append_shortest(b, (double)x, 9, 1); }
