#!/bin/sh
# udev/70-shaper.rules parses: `udevadm verify` when this udevadm has it
# (systemd 254 and later), else a syntax check here: every line that is not
# a comment or blank is comma-separated KEY==value, KEY!=value, KEY=value,
# KEY+=value, KEY-= or KEY:=value pairs with double-quoted values, and every
# rule that sets MODE sets 0660, GROUP plugdev and TAG+="uaccess".
# Usage: test_udev_rules.sh RULES_FILE
set -eu
rules=$1
[ -r "$rules" ] || { echo "cannot read $rules"; exit 1; }

if command -v udevadm >/dev/null 2>&1 &&
   udevadm verify --help >/dev/null 2>&1; then
  echo "udevadm verify $rules"
  exec udevadm verify "$rules"
fi

echo "udevadm verify not available: checking the syntax here"
awk '
  function fail(msg) { printf "%s:%d: %s\n  %s\n", FILENAME, NR, msg, $0; bad = 1 }
  /^[ \t]*(#|$)/ { next }
  {
    n = split($0, pair, ",")
    mode = group = uaccess = 0
    for (i = 1; i <= n; i++) {
      p = pair[i]
      sub(/^[ \t]+/, "", p); sub(/[ \t]+$/, "", p)
      if (p !~ /^[A-Z_]+(\{[A-Za-z0-9_]+\})?(==|!=|=|\+=|-=|:=)"[^"]*"$/) {
        fail("not a KEY==\"value\" pair: " p); next
      }
      if (p ~ /^MODE/) mode = (p == "MODE=\"0660\"") ? 1 : -1
      if (p == "GROUP=\"plugdev\"") group = 1
      if (p == "TAG+=\"uaccess\"") uaccess = 1
      keys++
    }
    if (mode == -1 || (mode == 1 && !(group && uaccess)))
      fail("MODE must come with 0660, GROUP=\"plugdev\" and TAG+=\"uaccess\"")
    rules++
  }
  END {
    if (bad) exit 1
    if (!rules) { print "no rules"; exit 1 }
    printf "%d rules, %d pairs: ok\n", rules, keys
  }' "$rules"
