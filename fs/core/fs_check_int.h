/*
 * fs_check_int.h — the state of one check, shared by the checker
 * (fs_check.c) and the repairer (fs_repair.c), and nothing else: a repair
 * plans its fixes from the inode table and the problems a check kept.
 *
 * fs_check_scan() runs a whole check into a struct chk and closes the
 * engine again; the problems found before the tree was judged were already
 * given to o->on_problem only when the scan stopped early (incomplete);
 * otherwise they wait in pend[] with the inode table, so that the caller
 * can resolve paths, emit them (fs_check_emit_pending) or repair them.
 * fs_check_release() frees it all. Not thread safe; one chk per call.
 */
#ifndef LSMERFS_FS_CHECK_INT_H
#define LSMERFS_FS_CHECK_INT_H

#include <stddef.h>
#include <stdint.h>

#include "fs_check.h"
#include "keys.h"
#include "lsmer.h"

#define MAX_DEPTH 4096u
#define FS_LOST_FOUND "lost+found"

/* What the check knows of one inode. */
struct ci {
    uint64_t ino;
    uint64_t size;
    uint64_t parent;       /* the inode's own parent field (directories) */
    uint64_t first_parent; /* the directory of the first dentry naming it */
    char *name;            /* that dentry's name (NUL-terminated), or NULL */
    uint32_t mode, nlink, flags;
    uint32_t dentries; /* dentries naming it */
    uint32_t subdirs;  /* directories: dentries of directories inside it */
    uint32_t entries;  /* directories: dentries inside it, of any type */
    uint8_t orphan;    /* an "o" key exists */
    uint8_t reach;     /* 0 unknown, 1 on the walk, 2 reachable, 3 not */
    uint8_t xattr_reported;
};

/* A problem kept until paths can be resolved. */
struct pending {
    struct fs_check_problem p;
    char *name; /* dentry problems: the entry's name under p.parent */
    char *msg;
};

struct chk {
    lsmer_db *db;
    const lsmer_snapshot *snap;
    const struct fs_check_options *o;
    struct fs_check_report *r;
    struct fs_super super;
    int have_super;
    uint64_t max_ino; /* the largest inode key seen, decodable or not */
    uint64_t lf_ino;  /* what "/lost+found" names, 0 if nothing */

    struct ci *tab; /* open addressing on ino; ino 0 = empty slot */
    size_t cap, n;

    struct pending *pend;
    size_t npend, cappend;

    /* a run of block or xattr keys of one inode with the same problem */
    struct fs_check_problem run;
    char run_msg[160];
};

int fs_check_scan(struct chk *c, const char *data_dir, const struct fs_check_options *o,
                  struct fs_check_report *out);
void fs_check_emit_pending(struct chk *c);
void fs_check_release(struct chk *c);

struct ci *tab_find(const struct chk *c, uint64_t ino);
int tab_add(struct chk *c, uint64_t ino, struct ci **out);
/* The path of ino (plus "/leaf" if leaf) from the root through first
 * dentries, malloc'd; NULL when it has none. */
char *path_of(const struct chk *c, uint64_t ino, const char *leaf);
/* The path a kept problem is about, malloc'd, or NULL. */
char *fs_check_pending_path(const struct chk *c, const struct pending *e);
/* 2 if directory e reaches the root through first dentries, 3 if not;
 * clear every reach field first when the tree has changed. */
uint8_t reach_of(struct chk *c, struct ci *e);

#endif
