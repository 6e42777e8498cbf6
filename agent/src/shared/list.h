/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Intrusive doubly linked lists, as systemd's list.h: the element embeds
 * LIST_FIELDS(Type, name) (a next and a prev pointer), the owner keeps a
 * head pointer. Insertion and removal are O(1) and allocate nothing, so an
 * element can leave its list from inside a callback.
 *
 *      typedef struct Client { LIST_FIELDS(struct Client, clients); } Client;
 *      Client *head = NULL;
 *      LIST_PREPEND(clients, head, c);
 *      LIST_REMOVE(clients, head, c);
 *      LIST_FOREACH_SAFE(clients, c, n, head) ...
 */

#define LIST_FIELDS(t, name) t *name##_next, *name##_prev

#define LIST_PREPEND(name, head, item)                                  \
        ({                                                              \
                typeof(*(head)) **_head = &(head), *_item = (item);     \
                if ((_item->name##_next = *_head))                      \
                        _item->name##_next->name##_prev = _item;        \
                _item->name##_prev = NULL;                              \
                *_head = _item;                                         \
                _item;                                                  \
        })

/* O(n): walks to the tail. For short lists (waiters) where order matters. */
#define LIST_APPEND(name, head, item)                                   \
        ({                                                              \
                typeof(*(head)) **_hd = &(head), *_it = (item), *_tail; \
                _it->name##_next = NULL;                                \
                if (!*_hd) {                                            \
                        _it->name##_prev = NULL;                        \
                        *_hd = _it;                                     \
                } else {                                                \
                        for (_tail = *_hd; _tail->name##_next;          \
                             _tail = _tail->name##_next)                \
                                ;                                       \
                        _tail->name##_next = _it;                       \
                        _it->name##_prev = _tail;                       \
                }                                                       \
                _it;                                                    \
        })

/* Puts item just before where (already in the list). */
#define LIST_INSERT_BEFORE(name, head, where, item)                     \
        ({                                                              \
                typeof(*(head)) **_hb = &(head), *_w = (where), *_i = (item); \
                _i->name##_next = _w;                                   \
                if ((_i->name##_prev = _w->name##_prev))                \
                        _i->name##_prev->name##_next = _i;              \
                else                                                    \
                        *_hb = _i;                                      \
                _w->name##_prev = _i;                                   \
                _i;                                                     \
        })

#define LIST_REMOVE(name, head, item)                                   \
        ({                                                              \
                typeof(*(head)) **_head = &(head), *_item = (item);     \
                if (_item->name##_next)                                 \
                        _item->name##_next->name##_prev = _item->name##_prev; \
                if (_item->name##_prev)                                 \
                        _item->name##_prev->name##_next = _item->name##_next; \
                else                                                    \
                        *_head = _item->name##_next;                    \
                _item->name##_next = _item->name##_prev = NULL;         \
                _item;                                                  \
        })

#define LIST_FOREACH(name, i, head) \
        for ((i) = (head); (i); (i) = (i)->name##_next)

/* The body may remove (and free) i. */
#define LIST_FOREACH_SAFE(name, i, n, head) \
        for ((i) = (head); (i) && (((n) = (i)->name##_next), 1); (i) = (n))

#define LIST_IS_EMPTY(head) (!(head))
