/* SPDX-License-Identifier: MIT */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/eventfd.h>

#include "dbpool.h"

struct DbPool {
        const IngestConfig *config;
        sd_event_source *wake;
        int efd;
        pthread_t threads[64];
        size_t n_threads;

        pthread_mutex_t lock;
        pthread_cond_t cond;
        DbTask *queue_head, *queue_tail;        /* waiting for a thread */
        DbTask *done;                           /* finished, for the loop */
        DbTask *group_head, *group_tail;        /* ran, waiting for run_group() */
        bool grouping;                          /* a thread is running groups */
        unsigned queued, in_flight;
        bool stopping;
        Credentials *creds;
        unsigned creds_generation;
        atomic_bool up;
};

typedef struct Conn {
        MYSQL *m;
        unsigned generation;
} Conn;

static void conn_close(Conn *c) {
        if (c->m)
                mysql_close(c->m);
        c->m = NULL;
}

static void conn_open(DbPool *p, Conn *c) {
        Credentials copy = {};
        unsigned gen;
        int r;

        pthread_mutex_lock(&p->lock);
        gen = p->creds_generation;
        copy.db_user = strdup(p->creds->db_user);
        copy.db_password = strdup(p->creds->db_password);
        pthread_mutex_unlock(&p->lock);
        if (c->m && c->generation != gen)
                conn_close(c);          /* rotated credentials: reconnect with the new ones */
        if (!c->m && copy.db_user && copy.db_password) {
                r = db_connect(p->config, &copy, &c->m);
                c->generation = gen;
                atomic_store(&p->up, r == 0);
        }
        strwipe_free(copy.db_user);
        strwipe_free(copy.db_password);
}

static void task_append(DbTask **head, DbTask **tail, DbTask *t) {
        t->next = NULL;
        if (*tail)
                (*tail)->next = t;
        else
                *head = t;
        *tail = t;
}

static void after_run(DbPool *p, Conn *c, DbTask **tasks, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (tasks[i]->error == -ECONNRESET) {
                        conn_close(c);
                        atomic_store(&p->up, false);
                        return;
                }
        if (c->m)
                atomic_store(&p->up, true);
}

/* Called and returns with p->lock held: runs the waiting groups until none
 * is left, so a task queued while no thread groups is never stranded. */
static void run_groups(DbPool *p, Conn *c) {
        uint64_t one = 1;

        p->grouping = true;
        while (p->group_head) {
                DbTask *g[DB_GROUP_MAX];
                size_t n = 0;

                while (p->group_head && n < DB_GROUP_MAX && (n == 0 || p->group_head->run_group == g[0]->run_group)) {
                        g[n++] = p->group_head;
                        p->group_head = p->group_head->next;
                }
                if (!p->group_head)
                        p->group_tail = NULL;
                pthread_mutex_unlock(&p->lock);

                conn_open(p, c);
                for (size_t i = 0; i < n; i++)
                        g[i]->error = 0;
                g[0]->run_group(g, n, c->m);
                after_run(p, c, g, n);

                pthread_mutex_lock(&p->lock);
                for (size_t i = 0; i < n; i++) {
                        g[i]->next = p->done;
                        p->done = g[i];
                }
                (void) !write(p->efd, &one, sizeof(one));
        }
        p->grouping = false;
}

static void *thread_main(void *userdata) {
        DbPool *p = userdata;
        Conn c = {};
        uint64_t one = 1;

        mysql_thread_init();
        for (;;) {
                DbTask *t;
                pthread_mutex_lock(&p->lock);
                while (!p->queue_head && !p->stopping)
                        pthread_cond_wait(&p->cond, &p->lock);
                t = p->queue_head;
                if (!t) {
                        pthread_mutex_unlock(&p->lock);
                        break;
                }
                p->queue_head = t->next;
                if (!p->queue_head)
                        p->queue_tail = NULL;
                p->queued--;
                pthread_mutex_unlock(&p->lock);

                conn_open(p, &c);
                t->error = 0;
                t->run(t, c.m);
                after_run(p, &c, &t, 1);

                pthread_mutex_lock(&p->lock);
                if (t->run_group) {
                        task_append(&p->group_head, &p->group_tail, t);
                        if (!p->grouping)
                                run_groups(p, &c);      /* returns with the lock held */
                        pthread_mutex_unlock(&p->lock);
                        continue;
                }
                t->next = p->done;
                p->done = t;
                pthread_mutex_unlock(&p->lock);
                (void) !write(p->efd, &one, sizeof(one));
        }
        conn_close(&c);
        mysql_thread_end();
        return NULL;
}

static void run_done(DbPool *p) {
        DbTask *list, *rev = NULL;

        pthread_mutex_lock(&p->lock);
        list = p->done;
        p->done = NULL;
        pthread_mutex_unlock(&p->lock);
        while (list) {          /* oldest first */
                DbTask *n = list->next;
                list->next = rev;
                rev = list;
                list = n;
        }
        while (rev) {
                DbTask *n = rev->next;
                p->in_flight--;
                rev->done(rev);
                rev = n;
        }
}

static int on_wake(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        uint64_t n;

        (void) !read(fd, &n, sizeof(n));
        run_done(userdata);
        return 0;
}

int db_pool_new(sd_event *e, const IngestConfig *c, Credentials *creds, DbPool **ret) {
        DbPool *p = calloc(1, sizeof(*p));
        int r;

        if (!p) {
                credentials_free(creds);
                return -ENOMEM;
        }
        p->config = c;
        p->creds = creds;
        p->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        pthread_mutex_init(&p->lock, NULL);
        pthread_cond_init(&p->cond, NULL);
        atomic_init(&p->up, true);
        if (p->efd < 0) {
                r = -errno;
                goto fail;
        }
        r = sd_event_add_io(e, &p->wake, p->efd, EPOLLIN, on_wake, p);
        if (r < 0)
                goto fail;
        for (size_t i = 0; i < MIN(c->db_threads, ELEMENTSOF(p->threads)); i++) {
                r = -pthread_create(&p->threads[i], NULL, thread_main, p);
                if (r < 0)
                        goto fail;
                p->n_threads++;
        }
        *ret = p;
        return 0;
fail:
        db_pool_free(p);
        return r;
}

DbPool *db_pool_free(DbPool *p) {
        if (!p)
                return NULL;
        pthread_mutex_lock(&p->lock);
        p->stopping = true;
        pthread_cond_broadcast(&p->cond);
        pthread_mutex_unlock(&p->lock);
        for (size_t i = 0; i < p->n_threads; i++)
                pthread_join(p->threads[i], NULL);
        run_done(p);
        sd_event_source_disable_unref(p->wake);
        if (p->efd >= 0)
                close(p->efd);
        credentials_free(p->creds);
        pthread_mutex_destroy(&p->lock);
        pthread_cond_destroy(&p->cond);
        return mfree(p);
}

int db_pool_submit(DbPool *p, DbTask *t) {
        pthread_mutex_lock(&p->lock);
        if (p->queued >= p->config->max_pending || p->stopping) {
                pthread_mutex_unlock(&p->lock);
                return -EBUSY;
        }
        task_append(&p->queue_head, &p->queue_tail, t);
        p->queued++;
        p->in_flight++;
        pthread_cond_signal(&p->cond);
        pthread_mutex_unlock(&p->lock);
        return 0;
}

void db_pool_set_credentials(DbPool *p, Credentials *creds) {
        Credentials *old;

        pthread_mutex_lock(&p->lock);
        old = p->creds;
        p->creds = creds;
        p->creds_generation++;
        pthread_mutex_unlock(&p->lock);
        credentials_free(old);
}

bool db_pool_up(DbPool *p) {
        return atomic_load(&p->up);
}

unsigned db_pool_in_flight(DbPool *p) {
        return p->in_flight;
}
