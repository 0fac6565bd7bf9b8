/*
 * table_format.h — constants and small codecs shared by the table builder
 * and reader: block handles, the 5-byte block trailer and the fixed-size
 * footer. docs/format-sstable.md draws the whole file.
 *
 *   block on disk = contents | type (1 byte) | masked crc32c (fixed32)
 *     type 0 = stored as is, 1 = zstd frame; the crc covers contents + type.
 *   block handle (in index entries) = varint64 offset | varint64 size
 *     size counts the contents only, not the trailer.
 *   footer (TABLE_FOOTER_SIZE = 80 bytes, the last bytes of the file):
 *     [0,64)  handles of index, filter, range-del, properties blocks, each
 *             fixed64 offset + fixed64 size (filter/range-del: 0,0 = none)
 *     [64,68) format version, fixed32
 *     [68,72) masked crc32c of bytes [0,68) and [72,80)
 *     [72,80) magic, fixed64
 *   The footer's size and the places of version, crc and magic are frozen
 *   for every format version, so a reader can always tell "damaged" (bad
 *   magic or crc: -LSMER_ECORRUPT) from "newer than me" (-EPROTO).
 *
 * Header-only; no state; thread-safe.
 */
#ifndef LSMER_TABLE_FORMAT_H
#define LSMER_TABLE_FORMAT_H

#include <stdint.h>

#include "lsmer.h"

#include "coding.h"

#define TABLE_FORMAT_VERSION 1u
/* Stored as a little-endian fixed64, so a table's last 8 bytes read
 * "LSMERSST" (`tail -c 8` tells a table at a glance). */
#define TABLE_MAGIC UINT64_C(0x545353524552534c)

#define BLOCK_TRAILER_SIZE 5
#define BLOCK_TYPE_NONE 0
#define BLOCK_TYPE_ZSTD 1

#define TABLE_FOOTER_SIZE 80
#define FOOTER_VERSION_OFF 64
#define FOOTER_CRC_OFF 68
#define FOOTER_MAGIC_OFF 72

/* Largest decompressed block a reader accepts: one maximal value and key
 * plus slack. Anything bigger in a zstd header is corruption. */
#define BLOCK_MAX_RAW ((uint64_t)LSMER_MAX_VALUE + LSMER_MAX_KEY + (1u << 20))

/* Restart interval of data, range-del and properties blocks; index blocks
 * use 1 so a binary search lands exactly. */
#define BLOCK_RESTART_INTERVAL 16
#define INDEX_RESTART_INTERVAL 1

struct block_handle {
    uint64_t offset;
    uint64_t size; /* contents only, without the trailer */
};

#define BLOCK_HANDLE_MAX_ENCODED 20

static inline uint8_t *block_handle_encode(uint8_t *d, struct block_handle h)
{
    d = put_varint64(d, h.offset);
    return put_varint64(d, h.size);
}

/* Returns the byte after the handle, NULL if malformed. */
static inline const uint8_t *block_handle_decode(const uint8_t *p, const uint8_t *limit,
                                                 struct block_handle *h)
{
    p = get_varint64(p, limit, &h->offset);
    if (!p) return NULL;
    return get_varint64(p, limit, &h->size);
}

/* Which handles the footer holds, in order. */
enum footer_slot {
    FOOTER_INDEX = 0,
    FOOTER_FILTER = 1,
    FOOTER_RANGE_DEL = 2,
    FOOTER_PROPS = 3,
    FOOTER_NSLOTS = 4,
};

/* The properties block: a block with bytewise-ordered names; numbers are
 * varint64, keys raw bytes. Readers ignore names they do not know. */
#define PROP_COMPRESSION "lsmer.compression" /* zstd level used; 0 = none */
#define PROP_DATA_BLOCKS "lsmer.data.blocks"
#define PROP_DATA_BYTES "lsmer.data.bytes" /* data blocks on disk, trailers included */
#define PROP_ENTRIES "lsmer.entries"       /* point entries (puts + deletes) */
#define PROP_DELETIONS "lsmer.entries.deletions"
#define PROP_RANGE_DELS "lsmer.entries.range_deletions"
#define PROP_FILTER_BITS "lsmer.filter.bits_per_key"
#define PROP_LARGEST_KEY "lsmer.key.largest"         /* internal key; may be a sentinel */
#define PROP_SMALLEST_KEY "lsmer.key.smallest"       /* internal key */
#define PROP_RAW_KEY_BYTES "lsmer.raw.key_bytes"     /* internal keys, uncompressed */
#define PROP_RAW_VALUE_BYTES "lsmer.raw.value_bytes" /* values, uncompressed */
#define PROP_LARGEST_SEQ "lsmer.seq.largest"
#define PROP_SMALLEST_SEQ "lsmer.seq.smallest"

struct table_props {
    uint64_t format_version;
    uint64_t entries, deletions, range_deletions;
    uint64_t raw_key_bytes, raw_value_bytes;
    uint64_t smallest_seq, largest_seq;
    uint64_t data_blocks, data_bytes;
    uint64_t filter_bits_per_key;
    uint64_t compression;
    struct slice smallest_key, largest_key; /* empty for an empty table */
};

#endif /* LSMER_TABLE_FORMAT_H */
