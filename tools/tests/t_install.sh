#!/usr/bin/env bash
# t_install: `cmake --install` gives a system what a package would: the two
# programs, liblsmer shared (SONAME, public symbols only) and static, lsmer.h,
# lsmer.pc, and the man pages. Installs the build into a staging prefix (and
# once more with DESTDIR, as packagers do) and then uses only what was
# installed:
#   - a C program built with `pkg-config --cflags --libs lsmer` against the
#     shared library, and with `--static` into a static executable, both run
#     (write, sync, read back, iterate, reopen);
#   - the shared library exports exactly the functions lsmer.h declares;
#   - lsmer and lsmerfs run --version and report the header's version;
#   - the man pages render with `man --warnings` and `groff -ww` without a
#     warning, are found through MANPATH, and name every function of lsmer.h,
#     every lsmer command and every lsmerfs option.
# Env: LSMER, LSMERFS (may be empty), LSMER_TEST_TMP, LSMER_BUILD_DIR (else
# derived from $LSMER, which lives in BUILD/tools/).
set -u -o pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
BUILD=${LSMER_BUILD_DIR:-$(cd "$(dirname "$LSMER")/.." && pwd)}
TMP=$LSMER_TEST_TMP/t_install
rm -rf "$TMP" && mkdir -p "$TMP"
fails=0
ok() { printf 'ok   %s\n' "$*"; }
bad() {
    printf 'FAIL %s\n' "$*" >&2
    fails=$((fails + 1))
}
die() {
    printf 'FAIL %s\n' "$*" >&2
    exit 1
}
for c in cmake cc pkg-config nm readelf man groff; do
    command -v "$c" >/dev/null || die "needs $c (scripts/install-deps.sh)"
done
[ -f "$BUILD/CMakeCache.txt" ] || die "$BUILD is not a CMake build directory (set LSMER_BUILD_DIR)"

HEADER=$SRC/engine/include/lsmer.h
VERSION=$(sed -n 's/^#define LSMER_VERSION_STRING "\(.*\)"$/\1/p' "$HEADER")
MAJOR=$(sed -n 's/^#define LSMER_VERSION_MAJOR \([0-9]*\)$/\1/p' "$HEADER")
[ -n "$VERSION" ] && [ -n "$MAJOR" ] || die "no version in $HEADER"
# Every function lsmer.h declares (what the library must export and
# liblsmer(3) must document).
grep -oE '\blsmer_[a-z0-9_]+\(' "$HEADER" | tr -d '(' | sort -u >"$TMP/api.txt"
[ "$(wc -l <"$TMP/api.txt")" -gt 30 ] || die "could not read the API from $HEADER"

# --- 1. install into a prefix -------------------------------------------------
P=$TMP/prefix
cmake --install "$BUILD" --prefix "$P" >"$TMP/install.log" 2>&1 ||
    { cat "$TMP/install.log" >&2; die "cmake --install --prefix $P failed"; }
ok "cmake --install --prefix $P"

PC=$(find "$P" -name lsmer.pc -path '*/pkgconfig/*' | head -1)
[ -n "$PC" ] || die "lsmer.pc not installed"
LIBDIR=$(dirname "$(dirname "$PC")")
for f in bin/lsmer include/lsmer.h share/man/man3/liblsmer.3 share/man/man8/lsmer.8 \
    share/man/man8/lsmerfs.8; do
    [ -e "$P/$f" ] || bad "$f not installed"
done
[ -z "${LSMERFS:-}" ] || [ -x "$P/bin/lsmerfs" ] || bad "bin/lsmerfs not installed"
cmp -s "$HEADER" "$P/include/lsmer.h" || bad "installed lsmer.h differs from the source"
for f in liblsmer.a liblsmer.so "liblsmer.so.$MAJOR" "liblsmer.so.$VERSION"; do
    [ -e "$LIBDIR/$f" ] || bad "$LIBDIR/$f not installed"
done
[ "$(readlink "$LIBDIR/liblsmer.so")" = "liblsmer.so.$MAJOR" ] ||
    bad "liblsmer.so should link to liblsmer.so.$MAJOR, links to $(readlink "$LIBDIR/liblsmer.so")"
soname=$(readelf -d "$LIBDIR/liblsmer.so.$VERSION" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[ "$soname" = "liblsmer.so.$MAJOR" ] && ok "SONAME $soname" ||
    bad "SONAME is '$soname', expected liblsmer.so.$MAJOR"

nm -D --defined-only "$LIBDIR/liblsmer.so.$VERSION" | awk '$2 ~ /^[TWDBRV]$/ { print $3 }' |
    sed 's/@.*//' | grep -v '^LSMER_' | sort -u >"$TMP/exported.txt"
if cmp -s "$TMP/api.txt" "$TMP/exported.txt"; then
    ok "liblsmer.so exports exactly the $(wc -l <"$TMP/api.txt") functions of lsmer.h"
else
    bad "liblsmer.so exports differ from lsmer.h (< header only, > library only):"
    diff "$TMP/api.txt" "$TMP/exported.txt" | grep '^[<>]' | head -20 >&2
fi

# --- 2. pkg-config ---------------------------------------------------------------
export PKG_CONFIG_PATH=$LIBDIR/pkgconfig
unset PKG_CONFIG_SYSROOT_DIR PKG_CONFIG_LIBDIR
pcver=$(pkg-config --modversion lsmer) || die "pkg-config cannot read $PC"
[ "$pcver" = "$VERSION" ] && ok "pkg-config --modversion lsmer = $pcver" ||
    bad "pkg-config --modversion lsmer is '$pcver', expected $VERSION"
CFLAGS_PC=$(pkg-config --cflags lsmer)
LIBS_PC=$(pkg-config --libs lsmer)
LIBS_STATIC=$(pkg-config --static --libs lsmer)
case " $CFLAGS_PC " in *" -I$P/include "*) ;; *) bad "--cflags '$CFLAGS_PC' lacks -I$P/include" ;; esac
case " $LIBS_PC " in *" -L$LIBDIR "*"-llsmer "*) ;; *) bad "--libs '$LIBS_PC' lacks -L$LIBDIR -llsmer" ;; esac
case " $LIBS_STATIC " in *" -lzstd "*) ;; *) bad "--static --libs '$LIBS_STATIC' lacks -lzstd" ;; esac

# A program that uses the installed library the way an application would.
cat >"$TMP/prog.c" <<'EOF'
#include <lsmer.h>
#include <stdio.h>
#include <string.h>

#define CHECK(x)                                                                \
    do {                                                                        \
        int rc_ = (x);                                                          \
        if (rc_ != 0) {                                                         \
            fprintf(stderr, "%s: %s\n", #x, lsmer_strerror(rc_));               \
            return 1;                                                           \
        }                                                                       \
    } while (0)

int main(int argc, char **argv)
{
    if (argc != 2) return 2;
    lsmer_options opt;
    lsmer_options_init(&opt);
    opt.memtable_size = 64 * 1024; /* several flushes in this small run */
    opt.log_level = LSMER_LOG_WARN;
    lsmer_db *db;
    CHECK(lsmer_open(argv[1], &opt, &db));
    char k[32], v[64];
    lsmer_batch *b = lsmer_batch_new();
    if (!b) return 1;
    for (int i = 0; i < 2000; i++) {
        snprintf(k, sizeof k, "key%06d", i);
        snprintf(v, sizeof v, "value %d of the installed library", i);
        CHECK(lsmer_batch_put(b, k, strlen(k), v, strlen(v)));
        if (lsmer_batch_count(b) == 100) {
            CHECK(lsmer_write(db, b, LSMER_SYNC));
            lsmer_batch_clear(b);
        }
    }
    lsmer_batch_free(b);
    CHECK(lsmer_delete(db, "key000007", 9));
    CHECK(lsmer_sync(db));
    CHECK(lsmer_flush(db));
    lsmer_close(db);

    CHECK(lsmer_open(argv[1], &opt, &db));
    lsmer_buf out = {0};
    CHECK(lsmer_get(db, NULL, "key001234", 9, &out));
    if (out.size != strlen("value 1234 of the installed library") ||
        memcmp(out.data, "value 1234 of the installed library", out.size) != 0) {
        fprintf(stderr, "wrong value after reopen\n");
        return 1;
    }
    if (lsmer_get(db, NULL, "key000007", 9, &out) != -ENOENT) {
        fprintf(stderr, "deleted key found\n");
        return 1;
    }
    lsmer_buf_free(&out);
    lsmer_iter *it;
    CHECK(lsmer_iter_open(db, NULL, NULL, &it));
    size_t n = 0;
    for (lsmer_iter_seek_first(it); lsmer_iter_valid(it); lsmer_iter_next(it)) n++;
    CHECK(lsmer_iter_status(it));
    lsmer_iter_close(it);
    lsmer_stats st;
    CHECK(lsmer_get_stats(db, &st));
    lsmer_close(db);
    if (n != 1999) {
        fprintf(stderr, "iterated %zu keys, expected 1999\n", n);
        return 1;
    }
    printf("liblsmer %s: %zu keys, last sequence %llu\n", LSMER_VERSION_STRING, n,
           (unsigned long long)st.last_sequence);
    return 0;
}
EOF
WARN="-std=c11 -Wall -Wextra -Werror -pedantic"
# A sanitizer build installs an instrumented library: the program needs the
# same runtime, and a fully static link is impossible, so liblsmer.a alone
# is linked statically there.
BUILD_TYPE=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD/CMakeCache.txt")
STATIC="-static"
case "$BUILD_TYPE" in
Asan) WARN="$WARN -fsanitize=address,undefined" STATIC="" ;;
Tsan) WARN="$WARN -fsanitize=thread" STATIC="" ;;
esac
# shellcheck disable=SC2086
if cc $WARN -o "$TMP/prog_shared" "$TMP/prog.c" $CFLAGS_PC $LIBS_PC 2>"$TMP/cc.err"; then
    needed=$(readelf -d "$TMP/prog_shared" | grep -c "Shared library: \[liblsmer.so.$MAJOR\]")
    [ "$needed" = 1 ] || bad "prog_shared does not need liblsmer.so.$MAJOR"
    if out=$(LD_LIBRARY_PATH=$LIBDIR "$TMP/prog_shared" "$TMP/db_shared" 2>&1); then
        ok "shared: $out"
    else
        bad "the program linked against the shared library failed: $out"
    fi
    resolved=$(LD_LIBRARY_PATH=$LIBDIR ldd "$TMP/prog_shared" | sed -n 's/.*liblsmer.so[^ ]* => \([^ ]*\).*/\1/p')
    [ "$resolved" = "$LIBDIR/liblsmer.so.$MAJOR" ] || bad "prog_shared loads liblsmer from '$resolved'"
else
    bad "compiling against the installed shared library: $(cat "$TMP/cc.err")"
fi
# shellcheck disable=SC2086
if [ -n "$STATIC" ]; then
    static_libs=$LIBS_STATIC
else
    static_libs=${LIBS_STATIC/-llsmer/-Wl,-Bstatic -llsmer -Wl,-Bdynamic}
fi
if cc $WARN $STATIC -o "$TMP/prog_static" "$TMP/prog.c" $(pkg-config --static --cflags lsmer) \
    $static_libs 2>"$TMP/cc.err"; then
    if [ -n "$STATIC" ] && readelf -d "$TMP/prog_static" 2>/dev/null | grep -q NEEDED; then
        bad "prog_static still needs shared libraries: $(readelf -d "$TMP/prog_static" | grep NEEDED)"
    fi
    readelf -d "$TMP/prog_static" 2>/dev/null | grep -q 'liblsmer\.so' &&
        bad "prog_static links liblsmer.so, not liblsmer.a"
    if out=$(env -u LD_LIBRARY_PATH "$TMP/prog_static" "$TMP/db_static" 2>&1); then
        ok "static: $out"
    else
        bad "the static program failed: $out"
    fi
else
    bad "linking statically with pkg-config --static: $(cat "$TMP/cc.err")"
fi

# --- 3. the programs ---------------------------------------------------------
v=$("$P/bin/lsmer" --version 2>&1 | head -1)
[ "$v" = "lsmer $VERSION (liblsmer $VERSION)" ] && ok "installed lsmer --version: $v" ||
    bad "installed lsmer --version printed '$v'"
"$P/bin/lsmer" --help >"$TMP/lsmer.help" || bad "installed lsmer --help failed"
if [ -n "${LSMERFS:-}" ]; then
    v=$("$P/bin/lsmerfs" --version 2>&1)
    case "$v" in "lsmerfs $VERSION "*) ok "installed lsmerfs --version: $v" ;;
    *) bad "installed lsmerfs --version printed '$v'" ;; esac
    "$P/bin/lsmerfs" --help >"$TMP/lsmerfs.help" || bad "installed lsmerfs --help failed"
fi

# The documented exit status of a clean stop: SIGTERM unmounts, exits 0.
if [ -n "${LSMERFS:-}" ] && [ "$(id -u)" -eq 0 ] && [ -c /dev/fuse ] && command -v mountpoint >/dev/null; then
    mkdir -p "$TMP/fsdata" "$TMP/mnt"
    "$P/bin/lsmerfs" "$TMP/fsdata" "$TMP/mnt" -f 2>"$TMP/lsmerfs.err" &
    pid=$!
    for ((i = 0; i < 100; i++)); do
        mountpoint -q "$TMP/mnt" && break
        sleep 0.1
    done
    if mountpoint -q "$TMP/mnt"; then
        echo hello >"$TMP/mnt/f" || bad "write into the installed lsmerfs"
        kill -TERM "$pid"
        wait "$pid"
        st=$?
        [ "$st" -eq 0 ] && ok "installed lsmerfs: SIGTERM unmounts and exits 0" ||
            bad "installed lsmerfs exited $st on SIGTERM (lsmerfs(8): 0)"
        mountpoint -q "$TMP/mnt" && { bad "still mounted after SIGTERM"; umount -l "$TMP/mnt"; }
    else
        bad "the installed lsmerfs did not mount: $(cat "$TMP/lsmerfs.err")"
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    fi
fi

# --- 4. man pages ------------------------------------------------------------
for page in man3/liblsmer.3 man8/lsmer.8 man8/lsmerfs.8; do
    f=$P/share/man/$page
    [ -f "$f" ] || continue
    MANWIDTH=80 man --warnings -E UTF-8 -l "$f" >"$TMP/page.txt" 2>"$TMP/man.err"
    if [ -s "$TMP/man.err" ] || [ ! -s "$TMP/page.txt" ]; then
        bad "man --warnings -l $page: $(head -5 "$TMP/man.err")"
    fi
    groff -ww -z -man -t "$f" 2>"$TMP/groff.err"
    [ -s "$TMP/groff.err" ] && bad "groff -ww $page: $(head -5 "$TMP/groff.err")"
    name=$(basename "$page")
    found=$(MANPATH=$P/share/man man -w "${name%.*}" 2>/dev/null)
    [ "$found" = "$f" ] || bad "MANPATH=$P/share/man man -w ${name%.*} gave '$found'"
done
ok "man pages render without warnings"
# What the pages must cover (rendered text, hyphenation off so names stay whole).
render() { groff -t -man -Tutf8 -P-cbou -rLL=200n -rHY=0 "$1" 2>/dev/null; }
render "$P/share/man/man3/liblsmer.3" >"$TMP/liblsmer.txt"
missing=$(while read -r fn; do grep -qw -- "$fn" "$TMP/liblsmer.txt" || echo "$fn"; done <"$TMP/api.txt")
[ -z "$missing" ] && ok "liblsmer(3) names every function of lsmer.h" ||
    bad "liblsmer(3) does not document: $(echo $missing)"
fields=$(sed -n '/^typedef struct lsmer_options {/,/^} lsmer_options;/p' "$HEADER" |
    sed 's|/\*.*||; /^ *\*/d' | grep -oE '[a-z0-9_]+(\[[A-Z_]+\])?;' | sed 's/\[.*//; s/;//')
[ "$(echo "$fields" | wc -w)" -gt 20 ] || bad "could not read the fields of lsmer_options"
missing=$(for fl in $fields; do grep -qw -- "$fl" "$TMP/liblsmer.txt" || echo "$fl"; done)
[ -z "$missing" ] && ok "liblsmer(3) describes every field of lsmer_options" ||
    bad "liblsmer(3) does not describe options: $(echo $missing)"

render "$P/share/man/man8/lsmer.8" >"$TMP/lsmer8.txt"
cmds=$(sed -n 's/^ *X(\([a-z_]*\), .*/\1/p' "$SRC/tools/lsmer/cli.h")
[ -n "$cmds" ] || bad "no commands found in tools/lsmer/cli.h"
missing=$(for c in $cmds; do grep -qE "^ +lsmer $c( |$)" "$TMP/lsmer8.txt" || echo "$c"; done)
[ -z "$missing" ] && ok "lsmer(8) has a section for every command: $(echo $cmds)" ||
    bad "lsmer(8) has no 'lsmer COMMAND' entry for: $(echo $missing)"
# Every option the built commands print in --help is in the page.
for c in $cmds; do
    "$P/bin/lsmer" "$c" --help >"$TMP/help.$c" 2>/dev/null || continue
    for o in $(grep -oE '(^|[ ,[])--[a-z][a-z0-9-]*' "$TMP/help.$c" | grep -oE -- '--[a-z0-9-]+' | sort -u); do
        grep -qE -- "$o([^a-z0-9-]|$)" "$TMP/lsmer8.txt" || bad "lsmer(8) lacks '$o' of lsmer $c --help"
    done
done
if [ -s "$TMP/lsmerfs.help" ]; then
    render "$P/share/man/man8/lsmerfs.8" >"$TMP/lsmerfs8.txt"
    for o in $(grep -oE '^ +(-[a-zA-Z]|--[a-z]+|[a-z_]+(=[A-Z]+)?) ' "$TMP/lsmerfs.help" | tr -d ' '); do
        grep -qF -- "$o" "$TMP/lsmerfs8.txt" || bad "lsmerfs(8) lacks '$o' of lsmerfs --help"
    done
    ok "lsmerfs(8) names every option of lsmerfs --help"
fi

# --- 5. DESTDIR, as a package build does it ------------------------------------
D=$TMP/destdir
DESTDIR=$D cmake --install "$BUILD" --prefix /usr >"$TMP/install2.log" 2>&1 ||
    { cat "$TMP/install2.log" >&2; die "DESTDIR=$D cmake --install --prefix /usr failed"; }
PC2=$(find "$D/usr" -name lsmer.pc | head -1)
[ -n "$PC2" ] || die "lsmer.pc not installed under DESTDIR"
grep -qx 'prefix=/usr' "$PC2" && ok "DESTDIR install: lsmer.pc says prefix=/usr" ||
    bad "DESTDIR install: $PC2 has $(grep '^prefix=' "$PC2"), expected prefix=/usr"
[ -z "$(find "$D" -path "$D/usr" -prune -o -type f -print | head -1)" ] ||
    bad "DESTDIR install put files outside $D/usr"
cflags=$(PKG_CONFIG_PATH=$(dirname "$PC2") PKG_CONFIG_SYSROOT_DIR=$D pkg-config --cflags lsmer)
libs=$(PKG_CONFIG_PATH=$(dirname "$PC2") PKG_CONFIG_SYSROOT_DIR=$D pkg-config --libs lsmer)
# shellcheck disable=SC2086
if cc $WARN -o "$TMP/prog_destdir" "$TMP/prog.c" $cflags $libs 2>"$TMP/cc.err" &&
    out=$(LD_LIBRARY_PATH=$D/usr/$(basename "$(dirname "$(dirname "$PC2")")") \
        "$TMP/prog_destdir" "$TMP/db_destdir" 2>&1); then
    ok "DESTDIR install: program built with PKG_CONFIG_SYSROOT_DIR runs: $out"
else
    bad "DESTDIR install: building or running against it failed: $(cat "$TMP/cc.err") ${out:-}"
fi

[ "$fails" -eq 0 ] || { echo "$fails check(s) failed" >&2; exit 1; }
echo "all install checks passed"
