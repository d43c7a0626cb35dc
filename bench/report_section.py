# SPDX-License-Identifier: LGPL-2.1-or-later
"""docs/performance.md holds one section per benchmark, each written by its own script: replace_section()
puts a benchmark's section in place and keeps the others as they are."""

import os
import re

HEADER = ('# Performance\n\n'
          'Written by the benchmarks in `bench/`, one section each (do not edit by hand: rerun the '
          'benchmark named at the top of a section; it rewrites that section only).\n')


def replace_section(path, name, body):
    """Puts body (markdown starting with its own "## " heading) between the markers of section name in
    the file at path, in place of what was there; a new section goes last. Atomic (rename)."""
    begin, end = f'<!-- section {name}: begin -->', f'<!-- section {name}: end -->'
    block = f'{begin}\n{body.strip()}\n{end}\n'
    text = open(path).read() if os.path.exists(path) else HEADER
    if not text.startswith('# Performance'):
        text = HEADER
    pattern = re.compile(re.escape(begin) + r'.*?' + re.escape(end) + r'\n?', re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text, count=1)
    else:
        text = text.rstrip('\n') + '\n\n' + block
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        f.write(text)
    os.rename(tmp, path)
