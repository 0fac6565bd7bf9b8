/*
 * fuzz_version_edit.c — fuzz target: the bytes are a manifest record (a
 * version edit). Decoding must refuse damage with an error and leave the
 * edit empty; an edit it accepts must encode to bytes that decode to the
 * same edit (encode, decode, encode gives the same bytes twice).
 */
#include <stdlib.h>
#include <string.h>

#include "buffer.h"
#include "dbformat.h"
#include "filemeta.h"
#include "fuzz.h"
#include "version_edit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct version_edit e, again;
    version_edit_init(&e);
    version_edit_init(&again);
    if (version_edit_decode(&e, data, size) == 0) {
        struct buffer one = BUFFER_INIT, two = BUFFER_INIT;
        if (version_edit_encode(&e, &one) == 0) {
            if (version_edit_decode(&again, one.p, one.n) != 0) abort();
            if (version_edit_encode(&again, &two) != 0) abort();
            if (one.n != two.n || memcmp(one.p, two.p, one.n) != 0) abort();
        }
        buffer_free(&one);
        buffer_free(&two);
    } else if (e.n_added || e.n_deleted || e.n_cps) {
        abort(); /* an edit that failed to decode must come back empty */
    }
    version_edit_free(&e);
    version_edit_free(&again);
    return 0;
}

void fuzz_seed_inputs(fuzz_add_fn add, void *arg)
{
    struct version_edit e;
    version_edit_init(&e);
    version_edit_set_log_number(&e, 12);
    version_edit_set_next_file_number(&e, 40);
    version_edit_set_last_sequence(&e, 123456789);
    struct buffer k1 = BUFFER_INIT, k2 = BUFFER_INIT;
    ikey_append(&k1, "apple", 5, 7, TYPE_VALUE);
    ikey_append(&k2, "zebra", 5, 9, TYPE_DELETE);
    version_edit_set_compact_pointer(&e, 2, buffer_slice(&k1));
    version_edit_delete_file(&e, 1, 17);
    struct file_meta *f = file_meta_new();
    if (f) {
        f->number = 33;
        f->file_size = 4096;
        file_meta_set_keys(f, buffer_slice(&k1), buffer_slice(&k2));
        version_edit_add_file(&e, 3, f);
        file_meta_unref(f);
    }
    struct buffer out = BUFFER_INIT;
    if (version_edit_encode(&e, &out) == 0) add(arg, out.p, out.n);
    buffer_free(&out);
    buffer_free(&k1);
    buffer_free(&k2);
    version_edit_free(&e);
}
