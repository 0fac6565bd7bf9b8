/* test_mt_skiplist.c — one writer inserts while two readers iterate without
 * locks (the skiplist's contract). Readers check that every entry they
 * reach is well-formed (its bytes were fully written before it was
 * published), that walks are strictly ordered both ways, and that every
 * entry inserted before a walk started is seen by it. Run under TSan. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdatomic.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "arena.h"
#include "buffer.h"
#include "dbformat.h"
#include "memtable.h"
#include "coding.h"
#include "skiplist.h"
#include "testutil.h"

/* Entry: 8-byte big-endian key, 1-byte length L, L payload bytes derived
 * from the key, then a check byte. A reader seeing a half-written entry
 * would see a wrong payload or check byte. */
static uint8_t payload_byte(uint64_t key, size_t i)
{
    return (uint8_t)(key * 31 + i * 7 + 1);
}

static int cmp_entry(void *arg, const uint8_t *a, const uint8_t *b)
{
    (void)arg;
    return memcmp(a, b, 8);
}

static int well_formed(const uint8_t *e)
{
    uint64_t k = get_be64(e);
    size_t n = e[8];
    if (n != k % 40) return 0;
    for (size_t i = 0; i < n; i++)
        if (e[9 + i] != payload_byte(k, i)) return 0;
    return e[9 + n] == 0xa5;
}

struct shared {
    struct skiplist sl;
    struct arena arena;
    _Atomic uint64_t inserted; /* entries inserted so far */
    _Atomic int done;
    uint64_t *keys; /* the writer's keys, in insert order */
    size_t nkeys;
    _Atomic uint64_t walks;
};

static void *reader_main(void *arg)
{
    struct shared *sh = arg;
    struct skiplist_iter it;
    skiplist_iter_init(&it, &sh->sl);
    struct rng r;
    rng_init(&r, (uint64_t)(uintptr_t)&it);
    int failures = 0;
    while (!atomic_load(&sh->done)) {
        uint64_t before = atomic_load_explicit(&sh->inserted, memory_order_acquire);
        /* every key inserted before this point must be found */
        if (before) {
            uint64_t k = sh->keys[rng_uniform(&r, before)];
            uint8_t t[8];
            put_be64(t, k);
            if (!skiplist_contains(&sh->sl, t)) failures++;
        }
        uint64_t seen = 0, last = 0;
        int mode = (int)rng_uniform(&r, 4);
        if (mode == 0) {
            /* a short walk from a random point, checking seek's answer */
            uint8_t t[8];
            uint64_t target = rng_next(&r) >> 20;
            put_be64(t, target);
            skiplist_iter_seek(&it, t);
            for (; skiplist_iter_valid(&it) && seen < 100; skiplist_iter_next(&it)) {
                const uint8_t *e = skiplist_iter_entry(&it);
                if (!well_formed(e)) failures++;
                uint64_t k = get_be64(e);
                if (k < target || (seen && k <= last)) failures++;
                last = k;
                seen++;
            }
        } else if (mode == 1) {
            for (skiplist_iter_seek_last(&it); skiplist_iter_valid(&it) && seen < 2000;
                 skiplist_iter_prev(&it)) {
                const uint8_t *e = skiplist_iter_entry(&it);
                if (!well_formed(e)) failures++;
                uint64_t k = get_be64(e);
                if (seen && k >= last) failures++;
                last = k;
                seen++;
            }
        } else {
            for (skiplist_iter_seek_first(&it); skiplist_iter_valid(&it); skiplist_iter_next(&it)) {
                const uint8_t *e = skiplist_iter_entry(&it);
                if (!well_formed(e)) failures++;
                uint64_t k = get_be64(e);
                if (seen && k <= last) failures++;
                last = k;
                seen++;
            }
            if (seen < before) failures++;
        }
        if (!atomic_load(&sh->done)) atomic_fetch_add(&sh->walks, 1);
        if (failures) break;
    }
    return (void *)(intptr_t)failures;
}

static void mt_skiplist_one_writer_two_readers(void **state)
{
    (void)state;
    struct rng r;
    rng_init(&r, test_seed("mt_skiplist"));
    static struct shared sh;
    arena_init(&sh.arena);
    assert_int_equal(skiplist_init(&sh.sl, &sh.arena, cmp_entry, NULL), 0);
    atomic_init(&sh.inserted, 0);
    atomic_init(&sh.done, 0);
    atomic_init(&sh.walks, 0);
    /* At least min_keys, and go on until the readers have made enough walks
     * while the writer was busy (so the two really overlap). */
    size_t min_keys = 20000;
    sh.nkeys = 400000;
    sh.keys = malloc(sh.nkeys * sizeof(*sh.keys));
    assert_non_null(sh.keys);
    pthread_t th[2];
    for (int i = 0; i < 2; i++) assert_int_equal(pthread_create(&th[i], NULL, reader_main, &sh), 0);
    size_t n = 0;
    uint64_t last_k = 0;
    while (n < sh.nkeys && (n < min_keys || atomic_load(&sh.walks) < 200)) {
        /* Runs of 64 random keys, then 64 ascending ones: the writer's
         * remembered insert position (the splice) is used and missed. */
        uint64_t k = (n & 64) ? last_k + 1 + (rng_next(&r) & 3) : rng_next(&r) >> 20;
        last_k = k;
        size_t len = k % 40;
        uint8_t *e = arena_alloc(&sh.arena, 8 + 1 + len + 1);
        assert_non_null(e);
        put_be64(e, k);
        e[8] = (uint8_t)len;
        for (size_t i = 0; i < len; i++) e[9 + i] = payload_byte(k, i);
        e[9 + len] = 0xa5;
        int rc = skiplist_insert(&sh.sl, e);
        if (rc == -EEXIST) continue;
        assert_int_equal(rc, 0);
        sh.keys[n++] = k;
        atomic_store_explicit(&sh.inserted, n, memory_order_release);
    }
    atomic_store(&sh.done, 1);
    for (int i = 0; i < 2; i++) {
        void *ret;
        pthread_join(th[i], &ret);
        assert_int_equal((intptr_t)ret, 0);
    }
    /* (the cap only stops a writer whose readers were starved of CPU) */
    assert_true(atomic_load(&sh.walks) >= 200 || n == sh.nkeys);
    fprintf(stderr, "mt_skiplist: %zu inserts, %llu reader walks during them\n", n,
            (unsigned long long)atomic_load(&sh.walks));
    arena_destroy(&sh.arena);
    free(sh.keys);
}

/* ---- the same through the memtable: gets and iterators against a writer
 * adding puts, deletes and range deletes, each reader checking its answers
 * against the operations up to the sequence it read (published with
 * release, as the db publishes last_seq). */

#define MT_OPS 6000
#define MT_KEYS 150

struct mt_op {
    int type, key, end; /* end: range deletes [key, end) */
};

struct mt_shared {
    struct memtable *m;
    struct mt_op ops[MT_OPS + 1]; /* by seq; written before last_seq moves */
    _Atomic uint64_t last_seq;
    _Atomic uint64_t reads;
};

static size_t mt_key(int k, char *buf)
{
    return (size_t)snprintf(buf, 16, "key%03d", k);
}

static size_t mt_value(int k, uint64_t seq, char *buf)
{
    int n = snprintf(buf, 64, "key%03d@%llu", k, (unsigned long long)seq);
    size_t pad = seq % 30;
    memset(buf + n, 'x', pad);
    return (size_t)n + pad;
}

static int mt_check_get(struct mt_shared *sh, struct rng *r, uint64_t snap)
{
    int k = (int)rng_uniform(r, MT_KEYS);
    char kb[16], want[64];
    struct slice key = slice_make(kb, mt_key(k, kb));
    struct buffer v = BUFFER_INIT;
    uint64_t found = 0, ts = 0;
    int rc = memtable_get(sh->m, key, snap, &v, &found, &ts);
    int bad = 0;
    /* the model: newest point op on k, newest covering range op */
    uint64_t want_seq = 0, want_ts = 0;
    for (uint64_t s = snap; s >= 1 && !want_seq; s--)
        if (sh->ops[s].type != TYPE_RANGE_DELETE && sh->ops[s].key == k) want_seq = s;
    for (uint64_t s = 1; s <= snap; s++)
        if (sh->ops[s].type == TYPE_RANGE_DELETE && sh->ops[s].key <= k && k < sh->ops[s].end)
            want_ts = s;
    if (ts != want_ts) bad++;
    if (!want_seq) {
        bad += rc != MEMTABLE_MISSING;
    } else if (sh->ops[want_seq].type == TYPE_DELETE) {
        bad += rc != MEMTABLE_DELETED || found != want_seq;
    } else {
        size_t wn = mt_value(k, want_seq, want);
        bad += rc != MEMTABLE_FOUND || found != want_seq || v.n != wn || memcmp(v.p, want, wn);
    }
    buffer_free(&v);
    return bad;
}

static int mt_check_iter(struct mt_shared *sh, uint64_t snap)
{
    uint64_t want = 0;
    for (uint64_t s = 1; s <= snap; s++) want += sh->ops[s].type != TYPE_RANGE_DELETE;
    struct iter *it = memtable_iter(sh->m);
    struct buffer last = BUFFER_INIT;
    uint64_t seen = 0;
    int bad = 0;
    for (iter_seek_first(it); iter_valid(it); iter_next(it)) {
        struct slice k = iter_key(it);
        if (!ikey_valid(k) || (last.n && ikey_compare(buffer_slice(&last), k) >= 0)) bad++;
        buffer_set(&last, k.p, k.n);
        uint64_t seq = ikey_seq(k);
        if (seq > MT_OPS || sh->ops[seq].type != ikey_type(k)) {
            bad++;
            break;
        }
        if (seq <= snap) seen++;
    }
    if (seen != want || iter_status(it)) bad++;
    buffer_free(&last);
    iter_destroy(it);
    return bad;
}

static void *mt_reader_main(void *arg)
{
    struct mt_shared *sh = arg;
    struct rng r;
    rng_init(&r, (uint64_t)(uintptr_t)&r);
    int bad = 0;
    uint64_t snap;
    do {
        snap = atomic_load_explicit(&sh->last_seq, memory_order_acquire);
        bad += rng_one_in(&r, 50) ? mt_check_iter(sh, snap) : mt_check_get(sh, &r, snap);
        atomic_fetch_add(&sh->reads, 1);
    } while (!bad && snap < MT_OPS);
    return (void *)(intptr_t)bad;
}

static void mt_memtable_one_writer_two_readers(void **state)
{
    (void)state;
    struct rng r;
    rng_init(&r, test_seed("mt_memtable"));
    static struct mt_shared sh;
    sh.m = memtable_new(64 << 10); /* readers check the key filter too */
    assert_non_null(sh.m);
    atomic_init(&sh.last_seq, 0);
    atomic_init(&sh.reads, 0);
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, mt_reader_main, &sh), 0);
    for (uint64_t seq = 1; seq <= MT_OPS; seq++) {
        struct mt_op *o = &sh.ops[seq];
        uint64_t t = rng_uniform(&r, 20);
        o->type = t < 14 ? TYPE_VALUE : t < 19 ? TYPE_DELETE : TYPE_RANGE_DELETE;
        o->key = (int)rng_uniform(&r, MT_KEYS);
        o->end = o->key + 1 + (int)rng_uniform(&r, 10);
        char kb[16], vb[64];
        size_t kn = mt_key(o->key, kb), vn = 0;
        if (o->type == TYPE_VALUE) vn = mt_value(o->key, seq, vb);
        if (o->type == TYPE_RANGE_DELETE) vn = mt_key(o->end, vb);
        assert_int_equal(memtable_add(sh.m, seq, o->type, slice_make(kb, kn), slice_make(vb, vn)),
                         0);
        atomic_store_explicit(&sh.last_seq, seq, memory_order_release);
    }
    for (int i = 0; i < 2; i++) {
        void *ret;
        pthread_join(th[i], &ret);
        assert_int_equal((intptr_t)ret, 0);
    }
    fprintf(stderr, "mt_memtable: %llu reads\n", (unsigned long long)atomic_load(&sh.reads));
    memtable_unref(sh.m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mt_skiplist_one_writer_two_readers),
        cmocka_unit_test(mt_memtable_one_writer_two_readers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
