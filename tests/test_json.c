/* Tests for the strict JSON parser (lib/format/json.c) and the pn_buf writer
 * (lib/core/buf.c). */
#include "testutil.h"

#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/json.h"

/* ---- helpers ---------------------------------------------------------------- */

static pn_json *parse_ok(const char *text)
{
    pn_json *j = NULL;
    pneumo_status st = pn_json_parse(text, strlen(text), "doc.json", &j);
    if (st != PNEUMO_OK)
        fail_msg("expected '%s' to parse, got %d: %s", text, st, pneumo_last_error());
    assert_non_null(j);
    return j;
}

/* Parse bytes that must be rejected with `expected`; the message must name the
 * label and, for syntax errors, the byte offset. */
static void expect_reject_n(const char *text, size_t len, pneumo_status expected)
{
    pn_json *j = (pn_json *)0x1;
    pneumo_status st = pn_json_parse(text, len, "doc.json", &j);
    if (st != expected)
        fail_msg("input '%.*s': expected status %d, got %d (%s)", (int)len, text, expected, st,
                 pneumo_last_error());
    assert_null(j);
    assert_int_equal(pneumo_last_status(), expected);
    const char *msg = pneumo_last_error();
    assert_true(strncmp(msg, "doc.json: JSON error at byte ", 29) == 0);
}

static void expect_reject(const char *text, pneumo_status expected)
{
    expect_reject_n(text, strlen(text), expected);
}

static char *repeat_nest(int depth)
{
    char *s = malloc((size_t)depth * 2 + 1);
    assert_non_null(s);
    for (int i = 0; i < depth; i++) {
        s[i] = '[';
        s[depth + i] = ']';
    }
    s[depth * 2] = '\0';
    return s;
}

/* ---- parsing valid documents --------------------------------------------------- */

static void test_nested_document(void **state)
{
    (void)state;
    pn_json *j = parse_ok(" {\"b\": [1, {\"c\": null}, true, false], \"a\": \"x\",\n"
                          "\t\"e\": {}, \"f\": []}\r\n");
    assert_int_equal(j->type, PN_JSON_OBJECT);
    assert_int_equal(j->count, 4);
    /* document order is kept */
    assert_string_equal(j->keys[0], "b");
    assert_string_equal(j->keys[1], "a");
    const pn_json *b = pn_json_get(j, "b");
    assert_non_null(b);
    assert_int_equal(b->type, PN_JSON_ARRAY);
    assert_int_equal(b->count, 4);
    assert_int_equal(pn_json_item(b, 0)->type, PN_JSON_NUMBER);
    assert_int_equal(pn_json_get(pn_json_item(b, 1), "c")->type, PN_JSON_NULL);
    assert_int_equal(pn_json_item(b, 2)->boolean, 1);
    assert_int_equal(pn_json_item(b, 3)->type, PN_JSON_BOOL);
    assert_int_equal(pn_json_item(b, 3)->boolean, 0);
    assert_null(pn_json_item(b, 4));
    assert_string_equal(pn_json_get_string(j, "a"), "x");
    assert_int_equal(pn_json_get(j, "e")->count, 0);
    assert_int_equal(pn_json_get(j, "f")->type, PN_JSON_ARRAY);
    assert_null(pn_json_get(j, "zzz"));
    assert_null(pn_json_get(b, "a")); /* not an object */
    assert_null(pn_json_get_string(j, "b"));
    pn_json_free(j);
    pn_json_free(NULL);
}

static void test_scalars_at_top_level(void **state)
{
    (void)state;
    pn_json *j = parse_ok("null");
    assert_int_equal(j->type, PN_JSON_NULL);
    pn_json_free(j);
    j = parse_ok("  \"s\"  ");
    assert_string_equal(j->string, "s");
    assert_int_equal(j->length, 1);
    pn_json_free(j);
    j = parse_ok("42");
    assert_true(j->number == 42.0);
    pn_json_free(j);
}

static void test_string_escapes(void **state)
{
    (void)state;
    pn_json *j = parse_ok("\"q\\\"b\\\\s\\/\\b\\f\\n\\r\\t\\u00e9\\u20AC\"");
    const char expected[] = "q\"b\\s/\b\f\n\r\t\xc3\xa9\xe2\x82\xac";
    assert_int_equal(j->length, sizeof expected - 1);
    assert_memory_equal(j->string, expected, sizeof expected);
    pn_json_free(j);

    /* U+1F600 as a surrogate pair, and raw multi-byte UTF-8 passes through */
    j = parse_ok("[\"\\ud83d\\ude00\", \"\xf0\x9f\x98\x80\", \"\xc3\xa9\"]");
    assert_string_equal(j->items[0].string, "\xf0\x9f\x98\x80");
    assert_string_equal(j->items[1].string, "\xf0\x9f\x98\x80");
    assert_string_equal(j->items[2].string, "\xc3\xa9");
    pn_json_free(j);
}

static void test_numbers(void **state)
{
    (void)state;
    /* overflow to infinity is an error, not a silent inf */
    pn_json *j = NULL;
    assert_int_equal(pn_json_parse("[1E400]", 7, "n", &j), PNEUMO_ERR_FORMAT);
    assert_int_equal(pn_json_parse("-1e999999999999999999999", 24, "n", &j), PNEUMO_ERR_FORMAT);
    assert_null(j);

    j = parse_ok("[0, -0.5, 1e-7, 1.25E+3, 9007199254740993, -9223372036854775808,"
                 " 9223372036854775808, -0, 2.5e-320, 1e3, 1.5, 1E-400]");
    int64_t v;
    assert_true(j->items[0].number == 0.0 && j->items[0].is_integer);
    assert_true(j->items[1].number == -0.5 && !j->items[1].is_integer);
    assert_true(j->items[2].number == 1e-7);
    assert_true(j->items[3].number == 1250.0);
    /* integer literals keep their exact value even beyond 2^53 */
    assert_true(pn_json_int64(&j->items[4], &v));
    assert_true(v == INT64_C(9007199254740993));
    assert_true(pn_json_int64(&j->items[5], &v));
    assert_true(v == INT64_MIN);
    /* 2^63 does not fit: still a number, but not an int64 */
    assert_false(j->items[6].is_integer);
    assert_false(pn_json_int64(&j->items[6], &v));
    assert_true(j->items[6].number == 9223372036854775808.0);
    assert_true(j->items[7].number == 0.0 && signbit(j->items[7].number));
    assert_true(j->items[8].number == 2.5e-320); /* subnormal */
    assert_true(pn_json_int64(&j->items[9], &v) && v == 1000);
    assert_false(pn_json_int64(&j->items[10], &v));
    assert_true(j->items[11].number == 0.0); /* underflow to zero is fine */
    pn_json_free(j);

    j = parse_ok("{\"n\": 7, \"f\": 0.25, \"t\": true, \"s\": \"x\"}");
    double d;
    int b;
    assert_true(pn_json_get_int64(j, "n", &v) && v == 7);
    assert_false(pn_json_get_int64(j, "f", &v));
    assert_false(pn_json_get_int64(j, "s", &v));
    assert_false(pn_json_get_int64(j, "missing", &v));
    assert_true(pn_json_get_number(j, "f", &d) && d == 0.25);
    assert_false(pn_json_get_number(j, "t", &d));
    assert_true(pn_json_get_bool(j, "t", &b) && b == 1);
    assert_false(pn_json_get_bool(j, "n", &b));
    pn_json_free(j);
}

static void test_depth_limit(void **state)
{
    (void)state;
    char *ok = repeat_nest(PN_JSON_MAX_DEPTH);
    pn_json *j = parse_ok(ok);
    pn_json_free(j);
    free(ok);
    char *deep = repeat_nest(PN_JSON_MAX_DEPTH + 1);
    expect_reject(deep, PNEUMO_ERR_LIMIT);
    free(deep);
    /* a very deep document must not recurse past the limit either */
    char *huge = repeat_nest(100000);
    expect_reject(huge, PNEUMO_ERR_LIMIT);
    free(huge);
    expect_reject("{\"a\":[{\"a\":[{\"a\":[{\"a\":[{\"a\":[{\"a\":[{\"a\":[{\"a\":[{\"a\":[{\"a\":["
                  "{\"a\":[{\"a\":[{\"a\":[{\"a\":[{\"a\":[{\"a\":[{\"a\":[{\"a\":[{\"a\":["
                  "{\"a\":[{\"a\":[{\"a\":[{\"a\":[{\"a\":[{\"a\":[{\"a\":[{\"a\":[{\"a\":["
                  "{\"a\":[{\"a\":[{\"a\":[{\"a\":[{\"a\":[",
                  PNEUMO_ERR_LIMIT);
}

static void test_node_limit(void **state)
{
    (void)state;
    /* [0,0,...] with PN_JSON_MAX_NODES zeros: one node too many with the array */
    size_t n = PN_JSON_MAX_NODES;
    char *s = malloc(2 * n + 2);
    assert_non_null(s);
    s[0] = '[';
    for (size_t i = 0; i < n; i++) {
        s[1 + 2 * i] = '0';
        s[2 + 2 * i] = (i + 1 < n) ? ',' : ']';
    }
    s[2 * n + 1] = '\0';
    expect_reject(s, PNEUMO_ERR_LIMIT);
    free(s);
}

static void test_rejects(void **state)
{
    (void)state;
    /* clang-format off */
    static const char *const bad[] = {
        "",                    /* empty input */
        "   ",                 /* only whitespace */
        "[1,]",                /* trailing comma */
        "{\"a\":1,}",          /* trailing comma in object */
        "[1 2]",               /* missing comma */
        "[01]",                /* leading zero */
        "-01",                 /* leading zero after sign */
        "[-]",                 /* bare minus */
        "[1.]",                /* no digits after point */
        "[.5]",                /* no leading digit */
        "[1e]",                /* empty exponent */
        "[+1]",                /* plus sign */
        "\"abc",               /* unterminated string */
        "\"abc\\",             /* unterminated escape */
        "\"a\tb\"",            /* raw control character */
        "\"a\nb\"",            /* raw newline */
        "\"\\x41\"",           /* bad escape */
        "\"\\u12G4\"",         /* bad hex */
        "\"\\u12\"",           /* short \u */
        "\"\\ud800\"",         /* lone high surrogate */
        "\"\\udc00\"",         /* lone low surrogate */
        "\"\\ud800\\u0041\"",  /* high surrogate + non-surrogate */
        "\"\\u0000\"",         /* would truncate the C string */
        "\"\xff\"",            /* invalid UTF-8 */
        "\"\xc0\xaf\"",        /* overlong UTF-8 */
        "\"\xed\xa0\x80\"",    /* UTF-8 encoded surrogate */
        "\"\xf4\x90\x80\x80\"",/* above U+10FFFF */
        "\"\xe2\x82\"",        /* truncated UTF-8 sequence */
        "{\"a\":1,\"a\":2}",   /* duplicate key */
        "{\"b\":1,\"a\":2,\"c\":3,\"a\":4}",
        "[{\"x\":{\"k\":1,\"k\":1}}]",
        "NaN", "[NaN]", "Infinity", "[-Infinity]", "nul", "tru", "True",
        "1 2",                 /* garbage after value */
        "{} x", "[]]", "\"a\"\"b\"",
        "{1:2}", "{\"a\" 1}", "{\"a\":}", "[", "{", "{\"a\":1", "]", "'a'",
        "/* comment */ 1",
    };
    /* clang-format on */
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_reject(bad[i], PNEUMO_ERR_FORMAT);

    /* embedded NUL: after a complete value, and inside a string */
    expect_reject_n("[1]\0", 4, PNEUMO_ERR_FORMAT);
    expect_reject_n("\"a\0b\"", 5, PNEUMO_ERR_FORMAT);
    /* the length is honoured: no reading past it even without a terminator */
    expect_reject_n("[1,2]", 4, PNEUMO_ERR_FORMAT);
    expect_reject_n("12345", 0, PNEUMO_ERR_FORMAT);

    /* the message names the byte offset of the problem */
    pn_json *j = NULL;
    assert_int_equal(pn_json_parse("[1,]", 4, "m.json", &j), PNEUMO_ERR_FORMAT);
    assert_string_equal(pneumo_last_error(), "m.json: JSON error at byte 3: trailing comma in array");
    assert_int_equal(pn_json_parse("{\"k\":1,\"k\":2}", 13, "m.json", &j), PNEUMO_ERR_FORMAT);
    assert_non_null(strstr(pneumo_last_error(), "duplicate key \"k\""));
    assert_int_equal(pn_json_parse("[01]", 4, "m.json", &j), PNEUMO_ERR_FORMAT);
    assert_non_null(strstr(pneumo_last_error(), "byte 1: leading zero"));
}

static void test_invalid_arguments(void **state)
{
    (void)state;
    pn_json *j = NULL;
    assert_int_equal(pn_json_parse("1", 1, "x", NULL), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pn_json_parse(NULL, 3, "x", &j), PNEUMO_ERR_INVALID_ARG);
    assert_int_equal(pn_json_parse(NULL, 0, "x", &j), PNEUMO_ERR_FORMAT);
    assert_null(j);
}

/* Many keys: duplicate detection must stay fast (sorted, not quadratic). */
static void test_large_object(void **state)
{
    (void)state;
    size_t n = 200000;
    pn_buf b;
    pn_buf_init(&b);
    pn_buf_append(&b, "{", 1);
    for (size_t i = 0; i < n; i++)
        pn_buf_printf(&b, "%s\"k%zu\":%zu", i ? "," : "", i, i);
    pn_buf_append(&b, "}", 1);
    assert_int_equal(b.failed, PN_BUF_OK);
    pn_json *j = NULL;
    assert_int_equal(pn_json_parse(b.data, b.len, "big", &j), PNEUMO_OK);
    assert_int_equal(j->count, n);
    int64_t v;
    assert_true(pn_json_get_int64(j, "k123456", &v) && v == 123456);
    pn_json_free(j);
    /* now duplicate the last key */
    b.len--;
    pn_buf_printf(&b, ",\"k7\":1}");
    assert_int_equal(pn_json_parse(b.data, b.len, "big", &j), PNEUMO_ERR_FORMAT);
    assert_non_null(strstr(pneumo_last_error(), "duplicate key \"k7\""));
    pn_buf_free(&b);
}

/* ---- writer ------------------------------------------------------------------- */

static void test_buf_basics(void **state)
{
    (void)state;
    pn_buf b;
    pn_buf_init(&b);
    pn_buf_append(&b, "ab", 2);
    pn_buf_printf(&b, "-%d-%s", 42, "x");
    assert_int_equal(b.failed, PN_BUF_OK);
    assert_string_equal(b.data, "ab-42-x");
    assert_int_equal(b.len, 7);
    /* after a failure, appends are no-ops */
    b.failed = PN_BUF_NOMEM;
    pn_buf_append(&b, "zz", 2);
    pn_buf_printf(&b, "%d", 1);
    pn_buf_json_string(&b, "q");
    pn_buf_json_number(&b, 1.0);
    assert_string_equal(b.data, "ab-42-x");
    pn_buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.failed, PN_BUF_OK);
}

static void test_string_writer_round_trip(void **state)
{
    (void)state;
    char all[160];
    size_t n = 0;
    for (int c = 1; c < 0x20; c++)
        all[n++] = (char)c;
    const char *rest = "quote\" backslash\\ slash/ del\x7f \xc3\xa9 \xf0\x9f\x98\x80 end";
    memcpy(all + n, rest, strlen(rest) + 1);

    pn_buf b;
    pn_buf_init(&b);
    pn_buf_json_string(&b, all);
    assert_int_equal(b.failed, PN_BUF_OK);
    /* no raw control characters in the output */
    for (size_t i = 0; i < b.len; i++)
        assert_true((unsigned char)b.data[i] >= 0x20);
    assert_non_null(strstr(b.data, "\\\""));
    assert_non_null(strstr(b.data, "\\\\"));
    assert_non_null(strstr(b.data, "\\n"));
    assert_non_null(strstr(b.data, "\\u0001"));
    pn_json *j = NULL;
    assert_int_equal(pn_json_parse(b.data, b.len, "w", &j), PNEUMO_OK);
    assert_string_equal(j->string, all);
    pn_json_free(j);
    pn_buf_free(&b);

    pn_buf_init(&b);
    pn_buf_json_string(&b, "");
    assert_string_equal(b.data, "\"\"");
    pn_buf_free(&b);

    /* invalid UTF-8 and NULL are refused rather than producing bad JSON */
    pn_buf_init(&b);
    pn_buf_json_string(&b, "bad \xff");
    assert_int_equal(b.failed, PN_BUF_BADINPUT);
    pn_buf_free(&b);
    pn_buf_init(&b);
    pn_buf_json_string(&b, NULL);
    assert_int_equal(b.failed, PN_BUF_BADINPUT);
    pn_buf_free(&b);
}

static double parse_number_text(const char *text)
{
    pn_json *j = NULL;
    pneumo_status st = pn_json_parse(text, strlen(text), "num", &j);
    if (st != PNEUMO_OK)
        fail_msg("writer produced unparsable number '%s': %s", text, pneumo_last_error());
    assert_int_equal(j->type, PN_JSON_NUMBER);
    double v = j->number;
    pn_json_free(j);
    return v;
}

static void expect_number_text(double x, int as_float, const char *expected)
{
    pn_buf b;
    pn_buf_init(&b);
    if (as_float)
        pn_buf_json_float(&b, (float)x);
    else
        pn_buf_json_number(&b, x);
    assert_int_equal(b.failed, PN_BUF_OK);
    assert_string_equal(b.data, expected);
    pn_buf_free(&b);
}

static void test_number_writer_shortest(void **state)
{
    (void)state;
    expect_number_text(0.1, 1, "0.1");
    expect_number_text(0.1, 0, "0.1");
    expect_number_text(0.5, 0, "0.5");
    expect_number_text(0.0, 0, "0");
    expect_number_text(-0.0, 0, "-0");
    expect_number_text(1e-7, 1, "1e-07");
    expect_number_text(1250.0, 0, "1250");
    expect_number_text(1250.0, 1, "1250");
    expect_number_text(-16777216.0, 1, "-16777216");
    expect_number_text(123456789012.0, 0, "123456789012");
    expect_number_text(1e20, 0, "1e+20");
    expect_number_text(1e20, 1, "1e+20");
    expect_number_text(1.0 / 3.0, 0, "0.3333333333333333");
    expect_number_text((double)(1.0f / 3.0f), 1, "0.33333334");

    pn_buf b;
    pn_buf_init(&b);
    pn_buf_json_number(&b, NAN);
    assert_int_equal(b.failed, PN_BUF_BADINPUT);
    pn_buf_free(&b);
    pn_buf_init(&b);
    pn_buf_json_float(&b, -INFINITY);
    assert_int_equal(b.failed, PN_BUF_BADINPUT);
    pn_buf_free(&b);
}

/* Random bit patterns: every finite float and double written then parsed back
 * must be bit-for-bit identical. */
static void test_number_writer_round_trip(void **state)
{
    (void)state;
    uint64_t rng = 12345;
    for (int i = 0; i < 20000; i++) {
        uint64_t bits = tu_next(&rng);
        uint32_t fbits = (uint32_t)bits;
        float f;
        double d;
        memcpy(&f, &fbits, sizeof f);
        memcpy(&d, &bits, sizeof d);
        pn_buf b;
        if (isfinite(f)) {
            pn_buf_init(&b);
            pn_buf_json_float(&b, f);
            assert_int_equal(b.failed, PN_BUF_OK);
            float back = (float)parse_number_text(b.data);
            if (memcmp(&back, &f, sizeof f) != 0)
                fail_msg("float %a written as '%s' read back as %a", (double)f, b.data, (double)back);
            pn_buf_free(&b);
        }
        if (isfinite(d)) {
            pn_buf_init(&b);
            pn_buf_json_number(&b, d);
            assert_int_equal(b.failed, PN_BUF_OK);
            double back = parse_number_text(b.data);
            if (memcmp(&back, &d, sizeof d) != 0)
                fail_msg("double %a written as '%s' read back as %a", d, b.data, back);
            pn_buf_free(&b);
        }
    }
    /* extremes */
    const float specials[] = {1.17549435e-38f, 1.4e-45f, 3.40282347e38f, -0.0f, 16777217.0f};
    for (size_t i = 0; i < sizeof specials / sizeof specials[0]; i++) {
        pn_buf b;
        pn_buf_init(&b);
        pn_buf_json_float(&b, specials[i]);
        float back = (float)parse_number_text(b.data);
        assert_memory_equal(&back, &specials[i], sizeof back);
        pn_buf_free(&b);
    }
}

/* A host application may run under a locale whose decimal separator is ','.
 * Neither the parser nor the writer may follow it. */
static void test_locale_independence(void **state)
{
    (void)state;
    const char *names[] = {"de_DE.UTF-8", "de_DE.utf8", "de_DE", "fr_FR.UTF-8"};
    const char *used = NULL;
    for (size_t i = 0; i < sizeof names / sizeof names[0] && !used; i++)
        if (setlocale(LC_NUMERIC, names[i]))
            used = names[i];
    if (!used) {
        printf("skipped: no de_DE/fr_FR locale installed; locale independence not checked\n");
        return;
    }
    char probe[16];
    snprintf(probe, sizeof probe, "%.1f", 0.5);
    if (strcmp(probe, "0,5") != 0) {
        setlocale(LC_NUMERIC, "C");
        printf("skipped: locale %s does not use ',' as decimal separator\n", used);
        return;
    }
    pn_json *j = NULL;
    pneumo_status st = pn_json_parse("[0.5, 1.25e-3]", 14, "loc", &j);
    pn_buf b;
    pn_buf_init(&b);
    pn_buf_json_number(&b, 0.5);
    pn_buf_append(&b, " ", 1);
    pn_buf_json_float(&b, 1.25e-3f);
    setlocale(LC_NUMERIC, "C");

    assert_int_equal(st, PNEUMO_OK);
    assert_true(j->items[0].number == 0.5);
    assert_true(j->items[1].number == 1.25e-3);
    assert_string_equal(b.data, "0.5 0.00125");
    pn_json_free(j);
    pn_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nested_document),
        cmocka_unit_test(test_scalars_at_top_level),
        cmocka_unit_test(test_string_escapes),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_node_limit),
        cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_invalid_arguments),
        cmocka_unit_test(test_large_object),
        cmocka_unit_test(test_buf_basics),
        cmocka_unit_test(test_string_writer_round_trip),
        cmocka_unit_test(test_number_writer_shortest),
        cmocka_unit_test(test_number_writer_round_trip),
        cmocka_unit_test(test_locale_independence),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
