#!/usr/bin/env bash
# Installs the Debian host packages an image target needs, when missing (image/lib.sh host_tools).
#   image/host-tools.sh PACKAGE...
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
need_root
host_tools "$@"
