#!/usr/bin/env bash
# make test (and so .ci/run): PostgreSQL's server programs for the run-store tests, from Debian's postgresql
# package. The tests start a throwaway server of their own (tests/pg_server.py); where none can be installed
# they skip and say why. Nothing here runs a server or changes one that is already installed.
if command -v initdb >/dev/null 2>&1 || compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's postgresql package (the PostgreSQL run-store tests need its server) ..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends postgresql >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q --no-install-recommends postgresql >/dev/null 2>&1; } ||
    echo "could not install postgresql: the PostgreSQL run-store tests will skip"
else
  echo "PostgreSQL is not installed (sudo apt-get install postgresql): the PostgreSQL run-store tests will skip"
fi
exit 0
