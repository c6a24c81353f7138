/*
 * test_common.c - the small shared pieces every store depends on:
 *  - mfkv_id_compare, the order of the item table and so of every tie,
 *    against an order written out by hand from its definition;
 *  - the UTF-8 validator that guards every id and title;
 *  - atomic folders (mfkv_atomic_dir): publish, a failure keeps the old
 *    folder, temporaries of dead writers are removed.
 */
#include "testutil.h"

#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "common/atomic_file.h"
#include "common/idtab.h"
#include "io/utf8.h"

typedef struct id {
    const char *s;
    size_t len;
} id;

#define ID(lit) {lit, sizeof lit - 1}

/* The definition (idtab.h): canonical unsigned decimals ("0", "17": digits
 * only, no leading zero) by value and before everything else; everything
 * else byte by byte as unsigned bytes, a prefix before its extensions.
 * Written out by hand, not computed. */
static const id expected[] = {
    ID("0"),
    ID("7"),
    ID("9"),
    ID("10"),
    ID("9999999999999999999"),  /* 19 digits: still a number */
    ID(""),                     /* empty: a prefix of everything */
    ID("+1"),                   /* '+' 0x2b */
    ID("-1"),                   /* '-' 0x2d */
    ID("00"),                   /* leading zero: text */
    ID("007"),
    ID("18446744073709551615"), /* 20 digits: text; '8' < 'a' */
    ID("1a"),
    ID("7 "),                   /* a space after: text, after "1a" */
    ID("abc"),
    ID("abc\0"),                /* a NUL byte is just a byte */
    ID("\xc3\xa9"),             /* bytes >= 0x80 compare unsigned */
    ID("\xff"),                 /* not UTF-8: still ordered */
};
enum { N_IDS = sizeof expected / sizeof expected[0] };

static int sign(int v) { return (v > 0) - (v < 0); }

static void id_order_is_total_and_as_defined(void **state)
{
    for (size_t i = 0; i < N_IDS; i++)
        for (size_t j = 0; j < N_IDS; j++) {
            int want = sign((int)i - (int)j);
            int got = sign(mfkv_id_compare(expected[i].s, expected[i].len, expected[j].s, expected[j].len));
            if (got != want)
                fail_msg("compare(\"%.*s\", \"%.*s\") = %d, want %d", (int)expected[i].len, expected[i].s,
                         (int)expected[j].len, expected[j].s, got, want);
        }
}

static int by_id(const void *pa, const void *pb)
{
    const id *a = pa, *b = pb;
    return mfkv_id_compare(a->s, a->len, b->s, b->len);
}

/* Sorting a shuffled copy gives the order above, whatever the start. */
static void sorting_mixed_ids_gives_the_defined_order(void **state)
{
    uint64_t seed = 12;
    for (int round = 0; round < 20; round++) {
        id ids[N_IDS];
        memcpy(ids, expected, sizeof ids);
        for (size_t i = N_IDS - 1; i > 0; i--) {
            size_t j = (size_t)(tu_next(&seed) % (i + 1));
            id t = ids[i];
            ids[i] = ids[j];
            ids[j] = t;
        }
        qsort(ids, N_IDS, sizeof *ids, by_id);
        for (size_t i = 0; i < N_IDS; i++) assert_ptr_equal(ids[i].s, expected[i].s);
    }
}

/* ---- UTF-8 ------------------------------------------------------------- */

typedef struct utf8_case {
    const char *s;
    size_t len;
    size_t invalid_at; /* = len when valid */
    const char *what;
} utf8_case;

#define VALID(lit, what) {lit, sizeof lit - 1, sizeof lit - 1, what}
#define BAD(lit, at, what) {lit, sizeof lit - 1, at, what}

static const utf8_case utf8_cases[] = {
    VALID("", "empty"),
    VALID("plain ascii, longer than eight bytes", "ASCII"),
    VALID("caf\xc3\xa9", "2 bytes"),
    VALID("\xe2\x82\xac", "3 bytes (U+20AC)"),
    VALID("\xf0\x9d\x84\x9e", "4 bytes (U+1D11E)"),
    VALID("\xed\x9f\xbf", "U+D7FF, just below the surrogates"),
    VALID("\xee\x80\x80", "U+E000, just above them"),
    VALID("\xf4\x8f\xbf\xbf", "U+10FFFF, the last code point"),
    VALID("\xc2\x80", "U+0080, the shortest 2-byte form"),
    BAD("\xc0\x80", 0, "overlong NUL"),
    BAD("\xc1\xbf", 0, "overlong 2-byte"),
    BAD("\xe0\x9f\xbf", 0, "overlong 3-byte (U+07FF)"),
    BAD("\xf0\x8f\xbf\xbf", 0, "overlong 4-byte (U+FFFF)"),
    BAD("\xed\xa0\x80", 0, "surrogate U+D800"),
    BAD("\xed\xbf\xbf", 0, "surrogate U+DFFF"),
    BAD("\xf4\x90\x80\x80", 0, "U+110000"),
    BAD("\xf5\x80\x80\x80", 0, "lead byte F5"),
    BAD("\xff", 0, "byte FF"),
    BAD("\x80", 0, "lone continuation byte"),
    BAD("ab\xe2\x82", 2, "3-byte sequence cut short at the end"),
    BAD("\xf0\x9d\x84", 0, "4-byte sequence cut short"),
    BAD("\xe2\x82x", 0, "continuation replaced by ASCII"),
    BAD("eight ok\xc3\xa9\x80", 10, "stray continuation after a valid pair"),
    BAD("abcdefghijklmnop\xc0\x80", 16, "bad byte after the eight-at-a-time run"),
};

static void utf8_validator_finds_the_first_bad_byte(void **state)
{
    for (size_t i = 0; i < sizeof utf8_cases / sizeof utf8_cases[0]; i++) {
        const utf8_case *c = &utf8_cases[i];
        size_t got = mfkv_utf8_invalid_at(c->s, c->len);
        if (got != c->invalid_at) fail_msg("%s: invalid_at %zu, want %zu", c->what, got, c->invalid_at);
    }
}

static void latin1_becomes_utf8(void **state)
{
    static const char in[] = "a\xe9\x80\xff";
    char out[2 * sizeof in];
    size_t n = mfkv_latin1_to_utf8(in, sizeof in - 1, out);
    assert_int_equal(n, 7);
    assert_memory_equal(out, "a\xc3\xa9\xc2\x80\xc3\xbf", 7);
    assert_int_equal(mfkv_utf8_invalid_at(out, n), n);
}

/* ---- atomic folders ----------------------------------------------------- */

static void put(const char *dir, const char *name, const char *text)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    tu_spit(p, text, strlen(text));
}

static int exists(const char *dir, const char *name)
{
    char p[4200];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return lstat(p, &st) == 0;
}

/* Entries of @p dir other than . and .. */
static int entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

static void atomic_dir_publishes_whole(void **state)
{
    char base[64], target[128];
    tu_tmpdir(base, sizeof base);
    snprintf(target, sizeof target, "%s/out", base);
    mfkv_atomic_dir a;
    mfkv_diag d = {0};
    assert_int_equal(mfkv_atomic_dir_open(&a, target, &d), MFKV_OK);
    put(a.tmp, "users.csv", "u\n");
    put(a.tmp, "items.csv", "i\n");
    assert_false(exists(base, "out")); /* nothing at the target until commit */
    assert_int_equal(mfkv_atomic_dir_commit(&a, &d), MFKV_OK);
    assert_true(exists(target, "users.csv"));
    assert_true(exists(target, "items.csv"));
    assert_int_equal(entries(base), 1); /* the temporary is gone: renamed */
    tu_rm_rf(base);
}

static void atomic_dir_failure_keeps_the_old_folder(void **state)
{
    char base[64], target[128];
    tu_tmpdir(base, sizeof base);
    snprintf(target, sizeof target, "%s/out", base);
    assert_int_equal(mkdir(target, 0755), 0);
    put(target, "old.csv", "old\n");
    mfkv_atomic_dir a;
    mfkv_diag d = {0};
    assert_int_equal(mfkv_atomic_dir_open(&a, target, &d), MFKV_OK);
    put(a.tmp, "new.csv", "new\n");
    /* A non-empty target is never replaced: the old folder stays as it was. */
    assert_int_equal(mfkv_atomic_dir_commit(&a, &d), MFKV_INVAL);
    assert_non_null(strstr(d.msg, "not empty"));
    assert_true(exists(target, "old.csv"));
    assert_false(exists(target, "new.csv"));
    assert_int_equal(entries(target), 1);
    assert_int_equal(entries(base), 1); /* the temporary was removed */

    /* An abort after writing leaves nothing either. */
    assert_int_equal(mfkv_atomic_dir_open(&a, target, &d), MFKV_OK);
    put(a.tmp, "new.csv", "new\n");
    mfkv_atomic_dir_abort(&a);
    assert_int_equal(entries(base), 1);
    assert_true(exists(target, "old.csv"));
    tu_rm_rf(base);
}

/* A pid that ran and is gone: a child that exited and was reaped. */
static long dead_pid(void)
{
    pid_t p = fork();
    assert_true(p >= 0);
    if (p == 0) _exit(0);
    assert_int_equal(waitpid(p, NULL, 0), p);
    return (long)p;
}

static void atomic_dir_removes_temporaries_of_dead_writers(void **state)
{
    char base[64], target[128], stale_dir[256], stale_file[256], live[256], other[256];
    tu_tmpdir(base, sizeof base);
    snprintf(target, sizeof target, "%s/out", base);
    long gone = dead_pid();
    /* A killed `weights --format csv` leaves a folder with files in it... */
    snprintf(stale_dir, sizeof stale_dir, "%s/.out.tmp.%ld.AbCdEf", base, gone);
    assert_int_equal(mkdir(stale_dir, 0755), 0);
    put(stale_dir, "users.csv", "partial");
    /* ...a killed file writer a file; */
    snprintf(stale_file, sizeof stale_file, "%s/.out.tmp.%ld.GhIjKl", base, gone);
    tu_spit(stale_file, "x", 1);
    /* a running writer's (pid 1 runs) and another target's stay. */
    snprintf(live, sizeof live, "%s/.out.tmp.1.MnOpQr", base);
    assert_int_equal(mkdir(live, 0755), 0);
    snprintf(other, sizeof other, "%s/.other.tmp.%ld.StUvWx", base, gone);
    tu_spit(other, "y", 1);

    mfkv_atomic_dir a;
    mfkv_diag d = {0};
    assert_int_equal(mfkv_atomic_dir_open(&a, target, &d), MFKV_OK);
    struct stat st;
    assert_int_not_equal(lstat(stale_dir, &st), 0);
    assert_int_not_equal(lstat(stale_file, &st), 0);
    assert_int_equal(lstat(live, &st), 0);
    assert_int_equal(lstat(other, &st), 0);
    mfkv_atomic_dir_abort(&a);
    tu_rm_rf(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(id_order_is_total_and_as_defined),
        cmocka_unit_test(sorting_mixed_ids_gives_the_defined_order),
        cmocka_unit_test(utf8_validator_finds_the_first_bad_byte),
        cmocka_unit_test(latin1_becomes_utf8),
        cmocka_unit_test(atomic_dir_publishes_whole),
        cmocka_unit_test(atomic_dir_failure_keeps_the_old_folder),
        cmocka_unit_test(atomic_dir_removes_temporaries_of_dead_writers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
