/* test_coding.c — varints, fixed-width and big-endian integers, crc32c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "coding.h"
#include "crc32c.h"

uint32_t crc32c_portable(uint32_t crc, const void *data, size_t n);

static void varint_roundtrip(void **state)
{
    (void)state;
    uint64_t vals[] = {0,
                       1,
                       127,
                       128,
                       255,
                       300,
                       16383,
                       16384,
                       UINT32_MAX,
                       (uint64_t)UINT32_MAX + 1,
                       UINT64_MAX - 1,
                       UINT64_MAX};
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        uint8_t buf[VARINT64_MAX];
        uint8_t *end = put_varint64(buf, vals[i]);
        assert_int_equal(end - buf, varint_length(vals[i]));
        uint64_t v;
        assert_ptr_equal(get_varint64(buf, end, &v), end);
        assert_true(v == vals[i]);
        /* every truncation is rejected */
        for (uint8_t *lim = buf; lim < end; lim++) assert_null(get_varint64(buf, lim, &v));
    }
}

static void varint_overflow_rejected(void **state)
{
    (void)state;
    uint8_t big[11];
    memset(big, 0xff, sizeof(big));
    uint64_t v;
    assert_null(get_varint64(big, big + sizeof(big), &v));
    uint8_t b33[] = {0xff, 0xff, 0xff, 0xff, 0x1f};
    uint32_t v32;
    assert_null(get_varint32(b33, b33 + 5, &v32));
    assert_non_null(get_varint64(b33, b33 + 5, &v));
}

static void fixed_and_be(void **state)
{
    (void)state;
    uint8_t b[8];
    put_fixed64(b, 0x0102030405060708ull);
    assert_int_equal(b[0], 8);
    assert_true(get_fixed64(b) == 0x0102030405060708ull);
    put_be64(b, 0x0102030405060708ull);
    assert_int_equal(b[0], 1);
    assert_true(get_be64(b) == 0x0102030405060708ull);
    /* big-endian encodings sort like the numbers */
    uint8_t x[8], y[8];
    put_be64(x, 255);
    put_be64(y, 256);
    assert_true(memcmp(x, y, 8) < 0);
}

static void length_prefixed(void **state)
{
    (void)state;
    uint8_t buf[16] = {3, 'a', 'b', 'c', 5, 'x'};
    struct slice s;
    assert_ptr_equal(get_length_prefixed(buf, buf + 4, &s), buf + 4);
    assert_int_equal(s.n, 3);
    assert_memory_equal(s.p, "abc", 3);
    assert_null(get_length_prefixed(buf + 4, buf + 6, &s)); /* claims 5, has 1 */
}

static void crc_known_values(void **state)
{
    (void)state;
    /* RFC 3720 test vectors */
    uint8_t zeros[32] = {0}, ones[32], incr[32];
    memset(ones, 0xff, 32);
    for (int i = 0; i < 32; i++) incr[i] = (uint8_t)i;
    assert_int_equal(crc32c(zeros, 32), 0x8a9136aa);
    assert_int_equal(crc32c(ones, 32), 0x62a8ab43);
    assert_int_equal(crc32c(incr, 32), 0x46dd794e);
    assert_int_equal(crc32c("123456789", 9), 0xe3069283);
    assert_int_equal(crc32c_extend(crc32c("1234", 4), "56789", 5), 0xe3069283);
}

static void crc_hw_matches_portable(void **state)
{
    (void)state;
#if defined(__x86_64__)
    /* Every x86-64 machine this runs on has SSE4.2: without it this test
     * would compare the portable path with itself. */
    assert_true(crc32c_hw_available());
#endif
    /* Lengths across the three-stream rounds (768 and 6144 bytes) and their
     * edges, at every alignment, from a non-zero start too. */
    static uint8_t buf[20000];
    for (size_t i = 0; i < sizeof(buf); i++) buf[i] = (uint8_t)((i * 131 + 7) ^ (i >> 8));
    for (size_t off = 0; off < 9; off++) {
        for (size_t n = 0; n + off <= 1031; n += 37)
            assert_int_equal(crc32c_extend(0, buf + off, n), crc32c_portable(0, buf + off, n));
        for (size_t n = 700; n + off <= sizeof(buf); n += 761)
            assert_int_equal(crc32c_extend(0x1234567, buf + off, n),
                             crc32c_portable(0x1234567, buf + off, n));
        size_t edges[] = {767, 768, 769, 1536, 6143, 6144, 6145, 6912, 12288, 12289, 19990};
        for (size_t e = 0; e < sizeof(edges) / sizeof(edges[0]); e++)
            assert_int_equal(crc32c_extend(0, buf + off, edges[e]),
                             crc32c_portable(0, buf + off, edges[e]));
    }
}

static void crc_mask(void **state)
{
    (void)state;
    uint32_t c = crc32c("foo", 3);
    assert_int_not_equal(c, crc32c_mask(c));
    assert_int_not_equal(c, crc32c_mask(crc32c_mask(c)));
    assert_int_equal(c, crc32c_unmask(crc32c_mask(c)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(varint_roundtrip), cmocka_unit_test(varint_overflow_rejected),
        cmocka_unit_test(fixed_and_be),     cmocka_unit_test(length_prefixed),
        cmocka_unit_test(crc_known_values), cmocka_unit_test(crc_hw_matches_portable),
        cmocka_unit_test(crc_mask),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
