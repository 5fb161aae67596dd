#!/bin/sh
# Lets members of the "ids" group read Suricata's logs, and loads the
# sensor's own rules (files/etc/suricata/rules/local.rules) next to the
# packaged ones.
set -e
mkdir -p /var/log/suricata
chgrp ids /var/log/suricata
chmod 2750 /var/log/suricata
yaml=/etc/suricata/suricata.yaml
if ! grep -q 'local.rules' "$yaml"; then
    sed -i 's|^rule-files:.*|&\n  - /etc/suricata/rules/local.rules|' "$yaml"
fi
grep -A3 '^rule-files:' "$yaml"
