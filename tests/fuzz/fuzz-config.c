/* SPDX-License-Identifier: MIT */
/*
 * The INI configuration with drop-ins: the input, split at "\n--\n", is
 * written as agentd.conf and agentd.conf.d/NN.conf in a private directory
 * and loaded the way agentd --check-config loads /etc/agentd (every
 * layer's section table, then the checks across keys). An error must come
 * with a message naming where.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "fuzz.h"

#define MAX_FILES 8

static char dir[64];

static void write_file(const char *name, const char *data, size_t len) {
        char p[128];
        int fd;

        snprintf(p, sizeof(p), "%s/%s", dir, name);
        fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || write(fd, data, len) != (ssize_t) len)
                abort();
        close(fd);
}

static void remove_file(const char *name) {
        char p[128];
        snprintf(p, sizeof(p), "%s/%s", dir, name);
        (void) unlink(p);
}

static void cleanup(void) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        (void) !system(cmd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *parts[MAX_FILES], *error = NULL, name[64];
        size_t lens[MAX_FILES];
        Config *c = NULL;
        size_t n;
        int r;

        if (!dir[0]) {
                const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
                snprintf(dir, sizeof(dir), "%s/fuzz-config-XXXXXX", base);
                if (!mkdtemp(dir))
                        abort();
                snprintf(name, sizeof(name), "%s/agentd.conf.d", dir);
                if (mkdir(name, 0700) < 0)
                        abort();
                atexit(cleanup);
        }
        if (size > 256 * 1024)
                return 0;
        n = fuzz_split(data, size, parts, lens, MAX_FILES);
        write_file("agentd.conf", parts[0], lens[0]);
        for (size_t i = 1; i < MAX_FILES; i++) {
                snprintf(name, sizeof(name), "agentd.conf.d/%02zu.conf", i);
                if (i < n)
                        write_file(name, parts[i], lens[i]);
                else
                        remove_file(name);
        }
        r = config_load(dir, &c, &error);
        if (r >= 0)
                FUZZ_ASSERT(c && !error);
        else if (r != -ENOMEM)
                FUZZ_ASSERT(error && error[0]);
        config_free(c);
        free(error);
        for (size_t i = 0; i < n; i++)
                free(parts[i]);
        return 0;
}
