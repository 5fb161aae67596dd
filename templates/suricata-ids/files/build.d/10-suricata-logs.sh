#!/bin/sh
# Lets members of the "ids" group read Suricata's logs.
set -e
mkdir -p /var/log/suricata /var/lib/suricata/rules
chown suricata:ids /var/log/suricata
chmod 2750 /var/log/suricata
# Point Suricata at the rule file suricata-update writes.
if [ -f /etc/suricata/suricata.yaml ]; then
    sed -i 's|^default-rule-path:.*|default-rule-path: /var/lib/suricata/rules|' /etc/suricata/suricata.yaml
fi
