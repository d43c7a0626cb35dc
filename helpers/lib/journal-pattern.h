/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* journal-pattern.h: [Watch] ErrorPattern=, checked and compiled. Apart from journal.c (which reads the
 * journal with sd-journal) so that a program which only reads the configuration (the generator) does
 * not link libsystemd. */
#pragma once

#include <regex.h>

/* The bounds an ErrorPattern= must keep before regcomp() sees it: glibc unrolls every '+' and {n,m}
 * into copies, so "x++++…" or nested counts cost exponential time and memory, in every helper and in
 * the generator at boot. */
#define JOURNAL_ERROR_PATTERN_MAX 512      /* bytes */
#define JOURNAL_ERROR_PATTERN_DUP_MAX 255  /* the largest count in {n,m} (POSIX's RE_DUP_MAX floor) */
#define JOURNAL_ERROR_PATTERN_DEPTH_MAX 16 /* nested parentheses */
#define JOURNAL_ERROR_PATTERN_SIZE_MAX 512 /* positions once every repetition is unrolled */

/* 0 when pattern keeps those bounds, with no repetition operator applied to another (x++, a*?: POSIX
 * leaves them undefined) and no back-reference (\1…\9: matching one can take exponential time).
 * -EINVAL otherwise, and *ret_why (when ret_why is not NULL) names the bound and where. It does not
 * say the pattern compiles: journal_compile_error_pattern() does. Takes time linear in its length. */
int journal_error_pattern_check(const char *pattern, char **ret_why);
/* Compile ErrorPattern= as a case-insensitive POSIX extended regex, after
 * journal_error_pattern_check(). \b (word boundary) is a GNU extension: used as is where regcomp()
 * has it, translated otherwise. -EINVAL on a bad pattern. */
int journal_compile_error_pattern(const char *pattern, regex_t *ret);
/* the portable rewrite of \b used where regcomp() lacks it; exposed for the tests */
int journal_error_pattern_translate(const char *pattern, char **ret);
