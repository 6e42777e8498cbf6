#!/bin/sh
# Runs one unit test binary, under valgrind when the "valgrind" meson test
# setup asks for it (AGENTD_VALGRIND=1).
if [ "${AGENTD_VALGRIND:-0}" = 1 ]; then
        exec valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect \
                --errors-for-leak-kinds=definite,indirect --error-exitcode=99 "$@"
fi
exec "$@"
