/* test_version_edit.c — version edit encoding: random round trips, and
 * strict decoding (every truncation and every bit flip of a valid edit is
 * either rejected or decodes to an edit that re-encodes to the same bytes;
 * never a crash), plus targeted malformed inputs. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "lsmer.h"

#include "dbformat.h"
#include "version_edit.h"
#include "testutil.h"

static struct rng rng;

static void random_ikey(struct buffer *b, int maxlen)
{
    uint8_t k[64];
    size_t n = rng_uniform(&rng, (uint64_t)maxlen + 1);
    rng_bytes(&rng, k, n);
    buffer_clear(b);
    assert_int_equal(
        ikey_append(b, k, n, rng_uniform(&rng, SEQ_MAX + 1), (int)rng_uniform(&rng, 3)), 0);
}

static uint64_t random_u64(void)
{
    /* mix small and huge values so every varint length shows up */
    int bits = (int)rng_uniform(&rng, 65);
    uint64_t v = rng_next(&rng);
    return bits == 64 ? v : v & ((UINT64_C(1) << bits) - 1);
}

static void random_edit(struct version_edit *e)
{
    struct buffer a = BUFFER_INIT, b = BUFFER_INIT;
    version_edit_init(e);
    if (rng_one_in(&rng, 2)) version_edit_set_log_number(e, random_u64());
    if (rng_one_in(&rng, 2)) version_edit_set_next_file_number(e, random_u64());
    if (rng_one_in(&rng, 2)) version_edit_set_last_sequence(e, random_u64() & SEQ_MAX);
    int n = (int)rng_uniform(&rng, 4);
    for (int i = 0; i < n; i++) {
        random_ikey(&a, 20);
        assert_int_equal(
            version_edit_set_compact_pointer(e, (int)rng_uniform(&rng, 7), buffer_slice(&a)), 0);
    }
    n = (int)rng_uniform(&rng, 6);
    for (int i = 0; i < n; i++)
        assert_int_equal(version_edit_delete_file(e, (int)rng_uniform(&rng, 7), random_u64() | 1),
                         0);
    n = (int)rng_uniform(&rng, 6);
    for (int i = 0; i < n; i++) {
        struct file_meta *f = file_meta_new();
        assert_non_null(f);
        f->number = random_u64() | 1;
        f->file_size = random_u64();
        random_ikey(&a, 30);
        random_ikey(&b, 30);
        if (ikey_compare(buffer_slice(&a), buffer_slice(&b)) > 0)
            assert_int_equal(file_meta_set_keys(f, buffer_slice(&b), buffer_slice(&a)), 0);
        else
            assert_int_equal(file_meta_set_keys(f, buffer_slice(&a), buffer_slice(&b)), 0);
        f->largest_seq = random_u64() & SEQ_MAX;
        f->smallest_seq = f->largest_seq ? rng_uniform(&rng, f->largest_seq) : 0;
        f->num_entries = random_u64();
        f->num_deletions = random_u64();
        f->num_range_deletions = random_u64();
        assert_int_equal(version_edit_add_file(e, (int)rng_uniform(&rng, 7), f), 0);
        file_meta_unref(f);
    }
    buffer_free(&a);
    buffer_free(&b);
}

static void assert_same_file(const struct file_meta *x, const struct file_meta *y)
{
    assert_true(x->number == y->number);
    assert_true(x->file_size == y->file_size);
    assert_int_equal(x->smallest.n, y->smallest.n);
    assert_memory_equal(x->smallest.p, y->smallest.p, x->smallest.n);
    assert_int_equal(x->largest.n, y->largest.n);
    assert_memory_equal(x->largest.p, y->largest.p, x->largest.n);
    assert_true(x->smallest_seq == y->smallest_seq);
    assert_true(x->largest_seq == y->largest_seq);
    assert_true(x->num_entries == y->num_entries);
    assert_true(x->num_deletions == y->num_deletions);
    assert_true(x->num_range_deletions == y->num_range_deletions);
}

static void assert_same_edit(const struct version_edit *x, const struct version_edit *y)
{
    assert_int_equal(x->has_log_number, y->has_log_number);
    if (x->has_log_number) assert_true(x->log_number == y->log_number);
    assert_int_equal(x->has_next_file_number, y->has_next_file_number);
    if (x->has_next_file_number) assert_true(x->next_file_number == y->next_file_number);
    assert_int_equal(x->has_last_sequence, y->has_last_sequence);
    if (x->has_last_sequence) assert_true(x->last_sequence == y->last_sequence);
    assert_int_equal(x->n_cps, y->n_cps);
    for (size_t i = 0; i < x->n_cps; i++) {
        assert_int_equal(x->cps[i].level, y->cps[i].level);
        assert_int_equal(x->cps[i].key.n, y->cps[i].key.n);
        assert_memory_equal(x->cps[i].key.p, y->cps[i].key.p, x->cps[i].key.n);
    }
    assert_int_equal(x->n_deleted, y->n_deleted);
    for (size_t i = 0; i < x->n_deleted; i++) {
        assert_int_equal(x->deleted[i].level, y->deleted[i].level);
        assert_true(x->deleted[i].number == y->deleted[i].number);
    }
    assert_int_equal(x->n_added, y->n_added);
    for (size_t i = 0; i < x->n_added; i++) {
        assert_int_equal(x->added[i].level, y->added[i].level);
        assert_same_file(x->added[i].f, y->added[i].f);
    }
}

static void roundtrip_random(void **state)
{
    (void)state;
    for (int iter = 0; iter < 2000; iter++) {
        struct version_edit e, d;
        struct buffer enc = BUFFER_INIT, enc2 = BUFFER_INIT;
        random_edit(&e);
        assert_int_equal(version_edit_encode(&e, &enc), 0);
        assert_int_equal(version_edit_decode(&d, enc.p, enc.n), 0);
        assert_int_equal(d.format, VERSION_EDIT_FORMAT);
        assert_same_edit(&e, &d);
        assert_int_equal(version_edit_encode(&d, &enc2), 0);
        assert_int_equal(enc.n, enc2.n);
        assert_memory_equal(enc.p, enc2.p, enc.n);
        version_edit_free(&e);
        version_edit_free(&d);
        buffer_free(&enc);
        buffer_free(&enc2);
    }
}

/* Decodes data: it must be rejected, or re-encode to exactly data. */
static void check_strict(const uint8_t *data, size_t n)
{
    struct version_edit d;
    struct buffer enc = BUFFER_INIT;
    int rc = version_edit_decode(&d, data, n);
    if (rc == 0) {
        assert_int_equal(version_edit_encode(&d, &enc), 0);
        assert_int_equal(enc.n, n);
        assert_memory_equal(enc.p, data, n);
    } else {
        assert_true(rc == -LSMER_ECORRUPT || rc == -EPROTO);
        /* a rejected decode leaves the edit empty */
        assert_int_equal(d.n_added + d.n_deleted + d.n_cps, 0);
    }
    version_edit_free(&d);
    buffer_free(&enc);
}

static void truncations_and_bit_flips(void **state)
{
    (void)state;
    for (int iter = 0; iter < 60; iter++) {
        struct version_edit e;
        struct buffer enc = BUFFER_INIT;
        random_edit(&e);
        assert_int_equal(version_edit_encode(&e, &enc), 0);
        uint8_t *copy = malloc(enc.n ? enc.n : 1);
        assert_non_null(copy);
        for (size_t len = 0; len < enc.n; len++) {
            /* a fresh allocation of exactly len bytes, so ASan sees overreads */
            uint8_t *t = malloc(len ? len : 1);
            memcpy(t, enc.p, len);
            check_strict(t, len);
            free(t);
        }
        for (size_t i = 0; i < enc.n; i++) {
            for (int bit = 0; bit < 8; bit++) {
                memcpy(copy, enc.p, enc.n);
                copy[i] ^= (uint8_t)(1u << bit);
                check_strict(copy, enc.n);
            }
        }
        free(copy);
        version_edit_free(&e);
        buffer_free(&enc);
    }
}

static void random_garbage(void **state)
{
    (void)state;
    uint8_t buf[64];
    for (int iter = 0; iter < 20000; iter++) {
        size_t n = rng_uniform(&rng, sizeof(buf) + 1);
        rng_bytes(&rng, buf, n);
        buf[0] = 1; /* a FORMAT tag, so decoding gets past the first field */
        if (n > 1) buf[1] = 1;
        check_strict(buf, n);
    }
}

static int decode_rc(const uint8_t *p, size_t n)
{
    struct version_edit d;
    int rc = version_edit_decode(&d, p, n);
    version_edit_free(&d);
    return rc;
}

static void malformed_inputs(void **state)
{
    (void)state;
    const int C = -LSMER_ECORRUPT;
    /* minimal valid edit */
    static const uint8_t ok[] = {1, 1};
    assert_int_equal(decode_rc(ok, 2), 0);
    assert_int_equal(decode_rc(ok, 0), C); /* empty */
    /* newer format */
    static const uint8_t newer[] = {1, 2, 2, 5};
    assert_int_equal(decode_rc(newer, sizeof(newer)), -EPROTO);
    static const uint8_t zero_format[] = {1, 0};
    assert_int_equal(decode_rc(zero_format, 2), C);
    /* FORMAT missing or not first */
    static const uint8_t no_format[] = {2, 5};
    assert_int_equal(decode_rc(no_format, 2), C);
    /* duplicate singleton, out of order tags */
    static const uint8_t dup[] = {1, 1, 2, 5, 2, 6};
    assert_int_equal(decode_rc(dup, sizeof(dup)), C);
    static const uint8_t order[] = {1, 1, 3, 5, 2, 6};
    assert_int_equal(decode_rc(order, sizeof(order)), C);
    static const uint8_t order2[] = {1, 1, 6, 0, 7, 5, 0, 1};
    assert_int_equal(decode_rc(order2, sizeof(order2)), C);
    /* unknown tag */
    static const uint8_t unknown[] = {1, 1, 9, 0};
    assert_int_equal(decode_rc(unknown, sizeof(unknown)), C);
    /* non-minimal varint (5 spelled as 0x85 0x00) */
    static const uint8_t longvar[] = {1, 1, 2, 0x85, 0x00};
    assert_int_equal(decode_rc(longvar, sizeof(longvar)), C);
    /* deleted file: bad level, number 0, then a good one */
    static const uint8_t badlevel[] = {1, 1, 6, LSMER_MAX_LEVELS, 5};
    assert_int_equal(decode_rc(badlevel, sizeof(badlevel)), C);
    static const uint8_t num0[] = {1, 1, 6, 1, 0};
    assert_int_equal(decode_rc(num0, sizeof(num0)), C);
    static const uint8_t del_ok[] = {1, 1, 6, 1, 5, 6, 2, 7};
    assert_int_equal(decode_rc(del_ok, sizeof(del_ok)), 0);
    /* sequence above SEQ_MAX */
    uint8_t seq[16] = {1, 1, 4};
    uint8_t *end = put_varint64(seq + 3, SEQ_MAX + 1);
    assert_int_equal(decode_rc(seq, (size_t)(end - seq)), C);
    end = put_varint64(seq + 3, SEQ_MAX);
    assert_int_equal(decode_rc(seq, (size_t)(end - seq)), 0);
    /* compact pointer with a key too short to be an internal key */
    static const uint8_t shortkey[] = {1, 1, 5, 0, 3, 'a', 'b', 'c'};
    assert_int_equal(decode_rc(shortkey, sizeof(shortkey)), C);

    /* new file whose smallest > largest, and the same with them in order */
    struct buffer b = BUFFER_INIT, lo = BUFFER_INIT, hi = BUFFER_INIT;
    ikey_append(&lo, "a", 1, 5, TYPE_VALUE);
    ikey_append(&hi, "b", 1, 5, TYPE_VALUE);
    for (int swap = 0; swap < 2; swap++) {
        buffer_clear(&b);
        uint8_t head[] = {1, 1, 7, 1, 9, 100};
        buffer_append(&b, head, sizeof(head));
        buffer_append_length_prefixed(&b, swap ? hi.p : lo.p, lo.n);
        buffer_append_length_prefixed(&b, swap ? lo.p : hi.p, hi.n);
        uint8_t tail[] = {1, 5, 2, 0, 0};
        buffer_append(&b, tail, sizeof(tail));
        assert_int_equal(decode_rc(b.p, b.n), swap ? C : 0);
    }
    /* smallest_seq > largest_seq */
    buffer_clear(&b);
    uint8_t head[] = {1, 1, 7, 1, 9, 100};
    buffer_append(&b, head, sizeof(head));
    buffer_append_length_prefixed(&b, lo.p, lo.n);
    buffer_append_length_prefixed(&b, hi.p, hi.n);
    uint8_t tail[] = {6, 5, 2, 0, 0};
    buffer_append(&b, tail, sizeof(tail));
    assert_int_equal(decode_rc(b.p, b.n), C);
    buffer_free(&b);
    buffer_free(&lo);
    buffer_free(&hi);
}

static void file_meta_refcount(void **state)
{
    (void)state;
    struct file_meta *f = file_meta_new();
    assert_non_null(f);
    f->number = 7;
    struct buffer k = BUFFER_INIT;
    ikey_append(&k, "key", 3, 1, TYPE_VALUE);
    assert_int_equal(file_meta_set_keys(f, buffer_slice(&k), buffer_slice(&k)), 0);
    struct version_edit e;
    version_edit_init(&e);
    assert_int_equal(version_edit_add_file(&e, 1, f), 0);
    assert_int_equal(atomic_load(&f->refs), 2);
    struct file_meta *g = file_meta_clone(f);
    assert_non_null(g);
    assert_same_file(f, g);
    assert_int_equal(atomic_load(&g->refs), 1);
    version_edit_free(&e);
    assert_int_equal(atomic_load(&f->refs), 1);
    file_meta_unref(f); /* ASan reports a leak or double free if counts are off */
    file_meta_unref(g);
    file_meta_unref(NULL);
    assert_int_equal(version_edit_add_file(&e, LSMER_MAX_LEVELS, NULL), -EINVAL);
    buffer_free(&k);
}

int main(void)
{
    rng_init(&rng, test_seed("test_version_edit"));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(roundtrip_random),   cmocka_unit_test(truncations_and_bit_flips),
        cmocka_unit_test(random_garbage),     cmocka_unit_test(malformed_inputs),
        cmocka_unit_test(file_meta_refcount),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
