/*
 * main.c — `lsmer`, the admin CLI: dispatches `lsmer COMMAND ...` to
 * cmd_COMMAND() (one file per command, see cli.h), and answers --help,
 * --version and `lsmer help COMMAND`.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

#include "bench.h"

/* Weak, so that a command listed in LSMER_COMMANDS whose file another
 * engineer has not added yet leaves a NULL here instead of a link error. */
#define X(name, summary) int cmd_##name(int argc, char **argv) __attribute__((weak));
LSMER_COMMANDS(X)
#undef X

struct command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
};

static const struct command commands[] = {
#define X(name, summary) {#name, summary, cmd_##name},
    LSMER_COMMANDS(X)
#undef X
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
    fprintf(f, "Usage: lsmer COMMAND [OPTIONS] [ARGS]\n"
               "       lsmer help COMMAND\n"
               "       lsmer --help | --version\n"
               "\n"
               "Administer lsmer databases: the DATA_DIR of an lsmerfs filesystem, or any\n"
               "directory written by liblsmer.\n"
               "\n"
               "Commands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (commands[i].run) fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n"
               "Run 'lsmer COMMAND --help' for the options and arguments of a command.\n"
               "\n"
               "Exit status:\n"
               "  0  success\n"
               "  1  the command failed; the message names the file and what to do\n"
               "  2  usage error: unknown command or option, missing or bad argument\n"
               "  A command may define further codes; its --help lists them.\n");
}

static void version(void)
{
    char peers[256];
    bench_describe_peers(peers, sizeof(peers));
    printf("lsmer %s (liblsmer %s)\n", LSMER_VERSION_STRING, LSMER_VERSION_STRING);
    printf("benchmark peers: %s\n", peers);
}

static const struct command *find(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0) return &commands[i];
    return NULL;
}

static int run(const struct command *c, int argc, char **argv)
{
    if (!c->run) {
        fprintf(stderr,
                "lsmer: '%s' is not part of this build yet (tools/lsmer/cmd_%s.c is missing)\n",
                c->name, c->name);
        return CLI_EXIT_FAIL;
    }
    return c->run(argc, argv);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *arg = argv[1];
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(arg, "--version") == 0 || strcmp(arg, "-V") == 0) {
        version();
        return CLI_EXIT_OK;
    }
    if (strcmp(arg, "help") == 0) {
        if (argc < 3) {
            usage(stdout);
            return CLI_EXIT_OK;
        }
        const struct command *c = find(argv[2]);
        if (!c) {
            fprintf(stderr, "lsmer: unknown command '%s' (run 'lsmer --help' for the list)\n",
                    argv[2]);
            return CLI_EXIT_USAGE;
        }
        char *help_argv[] = {argv[2], "--help", NULL};
        return run(c, 2, help_argv);
    }
    const struct command *c = find(arg);
    if (!c) {
        fprintf(stderr, "lsmer: unknown command '%s' (run 'lsmer --help' for the list)\n", arg);
        return CLI_EXIT_USAGE;
    }
    return run(c, argc - 1, argv + 1);
}
