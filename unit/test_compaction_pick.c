/* test_compaction_pick.c — leveled compaction picking: scores and the
 * threshold, L0 overlap closure, boundary user keys never split,
 * being_compacted respected, compact-pointer rotation, bottommost and
 * deeper-level checks, trivial moves, grandparent-based output splitting;
 * plus a randomized check of the picking invariants on random layouts. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "lsmer.h"

#include "compaction_pick.h"
#include "dbformat.h"
#include "env.h"
#include "version.h"
#include "testutil.h"

static struct rng rng;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

#define MiB (UINT64_C(1) << 20)

struct fixture {
    char *dir;
    struct version_set *vs;
    uint64_t next_seq;
};

static struct vs_options opts(void)
{
    struct vs_options o;
    memset(&o, 0, sizeof(o));
    o.num_levels = LSMER_MAX_LEVELS;
    o.level1_size = 10 * MiB;
    o.level_multiplier = 10;
    o.l0_compaction_trigger = 4;
    o.target_file_size = 1 * MiB;
    o.manifest_max_size = 1 << 20;
    o.create_if_missing = 1;
    return o;
}

static void fx_open(struct fixture *fx)
{
    struct vs_options o = opts();
    int created;
    fx->dir = test_tmpdir("cpick");
    assert_int_equal(version_set_new(env_posix_default(), fx->dir, &o, &fx->vs), 0);
    assert_int_equal(version_set_recover(fx->vs, &created), 0);
    fx->next_seq = 1000;
}

static void fx_close(struct fixture *fx)
{
    version_set_free(fx->vs);
    test_rmtree(fx->dir);
    free(fx->dir);
}

static struct file_meta *mkfile2(uint64_t number, const char *lo, uint64_t lo_seq, const char *hi,
                                 uint64_t hi_seq, uint64_t size)
{
    struct buffer a = BUFFER_INIT, b = BUFFER_INIT;
    struct file_meta *f = file_meta_new();
    assert_non_null(f);
    f->number = number;
    f->file_size = size;
    f->smallest_seq = lo_seq < hi_seq ? lo_seq : hi_seq;
    f->largest_seq = lo_seq > hi_seq ? lo_seq : hi_seq;
    ikey_append(&a, lo, strlen(lo), lo_seq, TYPE_VALUE);
    ikey_append(&b, hi, strlen(hi), hi_seq, TYPE_VALUE);
    assert_int_equal(file_meta_set_keys(f, buffer_slice(&a), buffer_slice(&b)), 0);
    buffer_free(&a);
    buffer_free(&b);
    return f;
}

/* Adds [lo, hi] at level; returns its number. L0 files get rising seqs so
 * later ones are newer. */
static uint64_t add(struct fixture *fx, int level, const char *lo, const char *hi, uint64_t size)
{
    struct version_edit e;
    version_edit_init(&e);
    uint64_t n = version_set_new_file_number(fx->vs);
    uint64_t seq = fx->next_seq++;
    struct file_meta *f = mkfile2(n, lo, seq, hi, seq, size);
    version_edit_add_file(&e, level, f);
    file_meta_unref(f);
    pthread_mutex_lock(&mu);
    assert_int_equal(version_set_log_and_apply(fx->vs, &e, &mu), 0);
    pthread_mutex_unlock(&mu);
    version_edit_free(&e);
    return n;
}

static void apply_edit(struct fixture *fx, struct version_edit *e)
{
    pthread_mutex_lock(&mu);
    assert_int_equal(version_set_log_and_apply(fx->vs, e, &mu), 0);
    pthread_mutex_unlock(&mu);
}

static int has(const struct file_array *a, uint64_t number)
{
    for (size_t i = 0; i < a->n; i++)
        if (a->v[i]->number == number) return 1;
    return 0;
}

static struct slice us(const char *s)
{
    return s ? slice_make(s, strlen(s)) : slice_make(NULL, 0);
}

/* ---- targeted cases -------------------------------------------------- */

static void threshold_and_scores(void **state)
{
    (void)state;
    struct fixture fx;
    fx_open(&fx);
    add(&fx, 0, "a", "b", MiB);
    add(&fx, 0, "c", "d", MiB);
    /* L0: 2 files / trigger 4 = 0.5 */
    assert_null(compaction_pick(fx.vs, 1.0));
    assert_null(compaction_pick(fx.vs, 0.51));
    struct compaction *c = compaction_pick(fx.vs, 0.5);
    assert_non_null(c);
    assert_int_equal(c->level, 0);
    assert_int_equal(c->output_level, 1);
    compaction_release(c);
    /* L1: 6 MiB / 10 MiB = 0.6 beats L0's 0.5 */
    add(&fx, 1, "m", "n", 6 * MiB);
    c = compaction_pick(fx.vs, 0.5);
    assert_non_null(c);
    assert_int_equal(c->level, 1);
    compaction_release(c);
    assert_null(compaction_pick(fx.vs, 0.7));
    /* two more L0 files: L0 at 1.0 goes first */
    add(&fx, 0, "e", "f", MiB);
    add(&fx, 0, "g", "h", MiB);
    c = compaction_pick(fx.vs, 1.0);
    assert_non_null(c);
    assert_int_equal(c->level, 0);
    compaction_release(c);
    /* the last level is never picked, however full */
    struct fixture fy;
    fx_open(&fy);
    add(&fy, LSMER_MAX_LEVELS - 1, "a", "z", 1000 * 1000 * MiB);
    assert_null(compaction_pick(fy.vs, 0.01));
    fx_close(&fy);
    fx_close(&fx);
}

static void l0_closure(void **state)
{
    (void)state;
    struct fixture fx;
    fx_open(&fx);
    uint64_t f1 = add(&fx, 0, "a", "c", MiB); /* oldest: the seed */
    uint64_t f2 = add(&fx, 0, "b", "e", MiB);
    uint64_t f3 = add(&fx, 0, "x", "z", MiB);
    uint64_t f4 = add(&fx, 0, "d", "f", MiB);
    uint64_t g1 = add(&fx, 1, "f", "g", MiB);
    uint64_t g2 = add(&fx, 1, "h", "i", MiB);
    struct compaction *c = compaction_pick(fx.vs, 1.0);
    assert_non_null(c);
    assert_int_equal(c->level, 0);
    assert_int_equal(c->inputs[0].n, 3);
    assert_true(has(&c->inputs[0], f1) && has(&c->inputs[0], f2) && has(&c->inputs[0], f4));
    assert_false(has(&c->inputs[0], f3));
    assert_int_equal(c->inputs[1].n, 1);
    assert_true(has(&c->inputs[1], g1));
    assert_false(has(&c->inputs[1], g2));
    assert_false(compaction_is_trivial_move(c));
    /* while it runs, L0 has [x,z] left: it can go on its own */
    struct compaction *d = compaction_pick(fx.vs, 0.25);
    assert_non_null(d);
    assert_int_equal(d->inputs[0].n, 1);
    assert_true(has(&d->inputs[0], f3));
    assert_true(compaction_is_trivial_move(d));
    /* L0 is all busy now; at a low threshold L1's free file [h,i] goes */
    struct compaction *e = compaction_pick(fx.vs, 0.01);
    assert_non_null(e);
    assert_int_equal(e->level, 1);
    assert_true(e->inputs[0].n == 1 && has(&e->inputs[0], g2));
    assert_null(compaction_pick(fx.vs, 0.01));
    compaction_release(e);
    compaction_release(d);
    compaction_release(c);
    /* a busy L1 file blocks the L0 compaction that needs it */
    struct compaction *m = compaction_pick_range(fx.vs, 1, us("f"), us("f"));
    assert_non_null(m);
    assert_true(m->manual && has(&m->inputs[0], g1));
    assert_false(compaction_is_trivial_move(m)); /* manual: always rewrite */
    c = compaction_pick(fx.vs, 1.0);
    assert_true(c == NULL || !has(&c->inputs[0], f1));
    compaction_release(c);
    compaction_release(m);
    fx_close(&fx);
}

/* Files sharing a user key at their boundary: [a@9 .. k@5] [k@4 .. m] */
static void boundary_keys_not_split(void **state)
{
    (void)state;
    struct fixture fx;
    fx_open(&fx);
    struct version_edit e;
    version_edit_init(&e);
    struct file_meta *f[6];
    f[0] = mkfile2(101, "a", 9, "k", 5, 6 * MiB);
    f[1] = mkfile2(102, "k", 4, "m", 9, 6 * MiB);
    f[2] = mkfile2(103, "n", 9, "p", 9, 1 * MiB);
    f[3] = mkfile2(201, "b", 3, "k", 3, 1 * MiB); /* L2 */
    f[4] = mkfile2(202, "k", 2, "l", 9, 1 * MiB);
    f[5] = mkfile2(203, "q", 9, "r", 9, 1 * MiB);
    for (int i = 0; i < 6; i++) {
        version_edit_add_file(&e, i < 3 ? 1 : 2, f[i]);
        file_meta_unref(f[i]);
    }
    version_set_mark_file_number_used(fx.vs, 300);
    apply_edit(&fx, &e);
    version_edit_free(&e);

    /* auto pick starts at file 101 and must take 102 too */
    struct compaction *c = compaction_pick(fx.vs, 1.0);
    assert_non_null(c);
    assert_int_equal(c->level, 1);
    assert_true(has(&c->inputs[0], 101) && has(&c->inputs[0], 102));
    assert_true(has(&c->inputs[1], 201) && has(&c->inputs[1], 202));
    assert_false(has(&c->inputs[1], 203));
    compaction_release(c);
    /* a manual range touching only 102 takes 101 as well */
    c = compaction_pick_range(fx.vs, 1, us("l"), us("l"));
    assert_non_null(c);
    assert_true(has(&c->inputs[0], 101) && has(&c->inputs[0], 102));
    assert_false(has(&c->inputs[0], 103));
    /* bottommost: nothing below L2 */
    assert_true(compaction_is_bottommost(c));
    /* deletions */
    version_edit_init(&e);
    assert_int_equal(compaction_add_input_deletions(c, &e), 0);
    assert_int_equal(e.n_deleted, 4);
    for (size_t i = 0; i < e.n_deleted; i++)
        assert_int_equal(e.deleted[i].level, e.deleted[i].number < 200 ? 1 : 2);
    assert_int_equal(e.n_cps, 1);
    assert_int_equal(e.cps[0].level, 1);
    version_edit_free(&e);
    compaction_release(c);
    fx_close(&fx);
}

static void bottommost_and_deeper_levels(void **state)
{
    (void)state;
    struct fixture fx;
    fx_open(&fx);
    add(&fx, 1, "c", "f", 20 * MiB);
    add(&fx, 3, "a", "b", MiB);
    add(&fx, 3, "d", "e", MiB);
    add(&fx, 4, "x", "y", MiB);
    struct compaction *c = compaction_pick(fx.vs, 1.0);
    assert_non_null(c);
    assert_false(compaction_is_bottommost(c)); /* L3 [d,e] meets [c,f] */
    assert_true(compaction_key_not_in_deeper_levels(c, us("c")));
    assert_false(compaction_key_not_in_deeper_levels(c, us("d")));
    assert_false(compaction_key_not_in_deeper_levels(c, us("e")));
    assert_true(compaction_key_not_in_deeper_levels(c, us("ea")));
    assert_true(compaction_key_not_in_deeper_levels(c, us("f")));
    assert_true(compaction_is_trivial_move(c));
    compaction_release(c);
    struct fixture fy;
    fx_open(&fy);
    add(&fy, 1, "c", "f", 20 * MiB);
    add(&fy, 3, "a", "b", MiB);
    add(&fy, 3, "g", "h", MiB);
    c = compaction_pick(fy.vs, 1.0);
    assert_non_null(c);
    assert_true(compaction_is_bottommost(c));
    compaction_release(c);
    fx_close(&fy);
    fx_close(&fx);
}

static void pointer_rotation_and_busy(void **state)
{
    (void)state;
    struct fixture fx;
    fx_open(&fx);
    uint64_t n[5];
    const char *keys[][2] = {{"a", "b"}, {"c", "d"}, {"e", "f"}, {"g", "h"}, {"i", "j"}};
    for (int i = 0; i < 5; i++) n[i] = add(&fx, 1, keys[i][0], keys[i][1], 3 * MiB);
    /* 15 MiB in a 10 MiB level: successive picks walk through the files */
    for (int round = 0; round < 12; round++) {
        struct compaction *c = compaction_pick(fx.vs, 1.0);
        assert_non_null(c);
        assert_int_equal(c->inputs[0].n, 1);
        assert_true(c->inputs[0].v[0]->number == n[round % 5]);
        compaction_release(c);
    }
    /* busy files are skipped; releasing makes them eligible again */
    struct compaction *busy[5];
    for (int i = 0; i < 5; i++) {
        busy[i] = compaction_pick(fx.vs, 1.0);
        assert_non_null(busy[i]);
        for (int j = 0; j < i; j++)
            assert_true(busy[i]->inputs[0].v[0]->number != busy[j]->inputs[0].v[0]->number);
        assert_int_equal(busy[i]->inputs[0].v[0]->being_compacted, 1);
    }
    assert_null(compaction_pick(fx.vs, 1.0));
    assert_null(compaction_pick_range(fx.vs, 1, us(NULL), us(NULL)));
    struct file_meta *freed = busy[2]->inputs[0].v[0];
    compaction_release(busy[2]);
    assert_int_equal(freed->being_compacted, 0);
    struct compaction *c = compaction_pick(fx.vs, 1.0);
    assert_non_null(c);
    assert_ptr_equal(c->inputs[0].v[0], freed);
    compaction_release(c);
    for (int i = 0; i < 5; i++)
        if (i != 2) compaction_release(busy[i]);
    fx_close(&fx);
}

static void grandparent_split(void **state)
{
    (void)state;
    struct fixture fx;
    fx_open(&fx);
    add(&fx, 1, "a", "z", 20 * MiB);
    /* grandparents in L3... no: L2 is the output level, L3 the grandparents */
    char lo[16], hi[16];
    for (int i = 0; i < 20; i++) {
        snprintf(lo, sizeof(lo), "g%02d", i);
        snprintf(hi, sizeof(hi), "g%02dz", i);
        add(&fx, 3, lo, hi, 4 * MiB); /* 10 x 1 MiB allows ~3 of these */
    }
    struct compaction *c = compaction_pick(fx.vs, 1.0);
    assert_non_null(c);
    assert_int_equal(c->grandparents.n, 20);
    assert_false(compaction_is_trivial_move(c)); /* too much grandparent overlap */
    int cuts = 0;
    struct buffer k = BUFFER_INIT;
    for (int i = 0; i < 20; i++) {
        buffer_clear(&k);
        snprintf(lo, sizeof(lo), "g%02dm", i);
        ikey_append(&k, lo, strlen(lo), 5, TYPE_VALUE);
        cuts += compaction_should_stop_before(c, buffer_slice(&k));
    }
    buffer_free(&k);
    /* 19 files passed x 4 MiB over a 10 MiB budget: a cut every 3 files */
    assert_true(cuts >= 5 && cuts <= 7);
    compaction_release(c);
    fx_close(&fx);
}

/* ---- randomized invariants ------------------------------------------- */

static void rand_key(char *buf, uint64_t v)
{
    snprintf(buf, 16, "%06llu", (unsigned long long)v);
}

static void build_random_layout(struct fixture *fx)
{
    struct version_edit e;
    version_edit_init(&e);
    struct version *v = version_set_current(fx->vs);
    for (int l = 0; l < v->num_levels; l++)
        for (size_t i = 0; i < v->nfiles[l]; i++)
            version_edit_delete_file(&e, l, v->files[l][i]->number);
    char lo[16], hi[16];
    int nl0 = (int)rng_uniform(&rng, 8);
    for (int i = 0; i < nl0; i++) {
        uint64_t a = rng_uniform(&rng, 1000), b = a + rng_uniform(&rng, 200);
        rand_key(lo, a);
        rand_key(hi, b);
        uint64_t seq = fx->next_seq++;
        struct file_meta *f = mkfile2(version_set_new_file_number(fx->vs), lo, seq, hi, seq,
                                      1 + rng_uniform(&rng, 2 * MiB));
        version_edit_add_file(&e, 0, f);
        file_meta_unref(f);
    }
    for (int l = 1; l < 4; l++) {
        uint64_t pos = rng_uniform(&rng, 20);
        int n = (int)rng_uniform(&rng, 12);
        for (int i = 0; i < n && pos < 1200; i++) {
            /* sometimes start on the previous file's last user key */
            int share = i > 0 && rng_one_in(&rng, 3);
            uint64_t a = share ? pos : pos + 1 + rng_uniform(&rng, 30);
            uint64_t b = a + rng_uniform(&rng, 60) + (share ? 1 : 0);
            rand_key(lo, a);
            rand_key(hi, b);
            struct file_meta *f =
                mkfile2(version_set_new_file_number(fx->vs), lo, share ? 100 : 300, hi, 200,
                        1 + rng_uniform(&rng, (uint64_t)(l == 1 ? 4 : 40) * MiB));
            version_edit_add_file(&e, l, f);
            file_meta_unref(f);
            pos = b;
        }
    }
    apply_edit(fx, &e);
    version_edit_free(&e);
}

static int meets(const struct file_meta *f, struct slice lo, struct slice hi)
{
    return slice_compare(file_meta_largest_ukey(f), lo) >= 0 &&
           slice_compare(file_meta_smallest_ukey(f), hi) <= 0;
}

static void range_of(const struct file_array *a, struct slice *lo, struct slice *hi)
{
    *lo = file_meta_smallest_ukey(a->v[0]);
    *hi = file_meta_largest_ukey(a->v[0]);
    for (size_t i = 1; i < a->n; i++) {
        if (slice_compare(file_meta_smallest_ukey(a->v[i]), *lo) < 0)
            *lo = file_meta_smallest_ukey(a->v[i]);
        if (slice_compare(file_meta_largest_ukey(a->v[i]), *hi) > 0)
            *hi = file_meta_largest_ukey(a->v[i]);
    }
}

static void check_compaction(struct version *v, struct compaction *c, double threshold, int manual)
{
    assert_true(c->inputs[0].n > 0);
    assert_int_equal(c->output_level, c->level + 1);
    if (!manual) assert_true(version_level_score(v, c->level) >= threshold);
    struct slice lo0, hi0;
    range_of(&c->inputs[0], &lo0, &hi0);
    for (int w = 0; w < 2; w++) {
        int l = c->level + w;
        struct slice lo = lo0, hi = hi0;
        if (c->inputs[w].n) range_of(&c->inputs[w], &lo, &hi);
        for (size_t i = 0; i < c->inputs[w].n; i++)
            assert_int_equal(c->inputs[w].v[i]->being_compacted, 1);
        for (size_t i = 0; i < v->nfiles[l]; i++) {
            const struct file_meta *f = v->files[l][i];
            if (has(&c->inputs[w], f->number)) continue;
            /* a file left behind shares no user key with the inputs */
            assert_false(meets(f, lo0, hi0));
            if (c->inputs[w].n) assert_false(meets(f, lo, hi));
        }
    }
}

static void random_invariants(void **state)
{
    (void)state;
    struct fixture fx;
    fx_open(&fx);
    int picked = 0, l0_picked = 0;
    for (int iter = 0; iter < 150; iter++) {
        build_random_layout(&fx);
        struct version *v = version_set_current(fx.vs);
        /* random busy files, as if other compactions ran */
        struct compaction *held[8];
        int nheld = 0;
        double threshold = 0.1 + (double)rng_uniform(&rng, 20) / 10.0;
        for (;;) {
            struct compaction *c;
            int manual = rng_one_in(&rng, 4);
            if (manual) {
                char a[16], b[16];
                uint64_t x = rng_uniform(&rng, 1200);
                rand_key(a, x);
                rand_key(b, x + rng_uniform(&rng, 300));
                c = compaction_pick_range(fx.vs, (int)rng_uniform(&rng, 4), us(a), us(b));
            } else {
                c = compaction_pick(fx.vs, threshold);
            }
            if (!c) break;
            picked++;
            l0_picked += c->level == 0;
            check_compaction(v, c, threshold, manual);
            /* concurrently picked compactions never share a file */
            for (int i = 0; i < nheld; i++)
                for (int w = 0; w < 2; w++)
                    for (size_t j = 0; j < c->inputs[w].n; j++) {
                        assert_false(has(&held[i]->inputs[0], c->inputs[w].v[j]->number));
                        assert_false(has(&held[i]->inputs[1], c->inputs[w].v[j]->number));
                    }
            held[nheld++] = c;
            if (nheld == 8) break;
        }
        for (int i = 0; i < nheld; i++) compaction_release(held[i]);
        for (int l = 0; l < v->num_levels; l++)
            for (size_t i = 0; i < v->nfiles[l]; i++)
                assert_int_equal(v->files[l][i]->being_compacted, 0);
    }
    assert_true(picked > 100);
    assert_true(l0_picked > 10);
    fx_close(&fx);
}

int main(void)
{
    rng_init(&rng, test_seed("test_compaction_pick"));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(threshold_and_scores),      cmocka_unit_test(l0_closure),
        cmocka_unit_test(boundary_keys_not_split),   cmocka_unit_test(bottommost_and_deeper_levels),
        cmocka_unit_test(pointer_rotation_and_busy), cmocka_unit_test(grandparent_split),
        cmocka_unit_test(random_invariants),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
