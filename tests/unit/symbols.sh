#!/bin/bash
# The library's exported symbols are all weft_-prefixed: a program linking
# libweft.a gets no name of ours it could collide with.
# usage: symbols.sh LIBWEFT.a   Prints "symbols: N passed, N failed, 0 skipped".
set -u
bad=$(nm -g --defined-only "$1" | awk '$2 ~ /[TDBRC]/ {print $3}' | grep -v '^weft_' | sort -u)
if [ -z "$bad" ]; then
	echo "ok   symbols: every exported symbol of $1 starts with weft_"
	echo "symbols: 1 passed, 0 failed, 0 skipped"
else
	echo "FAIL symbols: not prefixed: $(echo $bad)"
	echo "symbols: 0 passed, 1 failed, 0 skipped"
	exit 1
fi
