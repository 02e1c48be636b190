#!/bin/sh
# The DLedger quick start (RocketMQ's distribution/bin/dledger/fast-try.sh):
#   sh bin/dledger/fast-try.sh start   name server + the 3 brokers of conf/dledger/, in the background
#   sh bin/dledger/fast-try.sh stop    TERM to those processes, KILL after a grace period
# (At the guide's path; the DLedger CLI launcher is bin/dledger.mjs. The script finds the project
# root from its own location.)
# Unlike the Java script, which greps `ps` for every BrokerStartup on the machine, we keep a pid
# file per process and only ever signal a pid whose command line is still ours, so other
# clusters on the same host are left alone.
# Environment (defaults are the quick start's):
#   ROCKETMQ_LOG_DIR   logs and pid files        (default $HOME/logs/rocketmqlogs)
#   FAST_TRY_CONF_DIR  directory with broker-n0.conf, broker-n1.conf, broker-n2.conf
#                      (default ./conf/dledger); their namesrvAddr should point at the name server.
#                      A namesrv.conf there is passed to the name server with -c.
#   NAMESRV_PORT       the name server's port    (default 9876)
#   FAST_TRY_GRACE_SECONDS  seconds between TERM and KILL on stop (default 8: Java's 4 x 2 s)
#   FAST_TRY_CONSOLE   1: also start the web console (bin/mqconsole) and print its URL
#   FAST_TRY_CONSOLE_PORT   its HTTP port (default 8080; 0 = any free port)
#   FAST_TRY_CONSOLE_ARGS   more mqconsole options, e.g. --allow-writes
SCRIPT_DIR=$(cd "$(dirname "$0")" && pwd) || exit 1
ROOT=$SCRIPT_DIR
while [ ! -f "$ROOT/package.json" ] || [ ! -f "$ROOT/bin/mqbroker" ]; do
  if [ "$ROOT" = / ]; then echo "cannot find the project root (package.json and bin/mqbroker) above $SCRIPT_DIR"; exit 1; fi
  ROOT=$(dirname "$ROOT")
done
cd "$ROOT" || exit 1
CONF_DIR=${FAST_TRY_CONF_DIR:-./conf/dledger}
LOG_DIR=${ROCKETMQ_LOG_DIR:-$HOME/logs/rocketmqlogs}
NAMESRV_PORT=${NAMESRV_PORT:-9876}
GRACE=${FAST_TRY_GRACE_SECONDS:-8}
NODES="n0 n1 n2"

checkConf() {
  for node in $NODES; do
    if [ ! -f "$CONF_DIR/broker-$node.conf" ]; then
      echo "Make sure the $CONF_DIR/broker-n0.conf, $CONF_DIR/broker-n1.conf, $CONF_DIR/broker-n2.conf exists"
      exit 1
    fi
  done
  if [ ! -f "$ROOT/dist/src/cli/mqbroker.js" ] || [ ! -f "$ROOT/dist/src/cli/mqnamesrv.js" ]; then
    echo "dist/ is not built: run npm install (or npm run build) first"
    exit 1
  fi
}

# ours PIDFILE MARKER: prints the pid when the pid file names a live process whose command line
# still contains MARKER (a recycled pid now belonging to someone else does not count).
ours() {
  [ -f "$1" ] || return 1
  pid=$(cat "$1" 2>/dev/null)
  case "$pid" in ''|*[!0-9]*) return 1 ;; esac
  kill -0 "$pid" 2>/dev/null || return 1
  ps -p "$pid" -o args= 2>/dev/null | grep -F -- "$2" >/dev/null || return 1
  echo "$pid"
}

# waitBoot NAME PID LOG PATTERN: waits up to 15 s for the boot line; on an early exit prints the
# log's tail so the cause (port in use, bad conf) shows without opening the file.
waitBoot() {
  i=0
  while [ $i -lt 150 ]; do
    if grep -q -- "$4" "$3" 2>/dev/null; then return 0; fi
    if ! kill -0 "$2" 2>/dev/null; then
      echo "$1 (pid $2) exited during startup; last lines of $3:"
      tail -n 5 "$3" | sed 's/^/    /'
      return 1
    fi
    sleep 0.1
    i=$((i + 1))
  done
  echo "$1 (pid $2) is running but printed no boot line within 15 s; see $3"
  return 1
}

start() {
  mkdir -p "$LOG_DIR" || exit 1
  failed=0
  if pid=$(ours "$LOG_DIR/namesrv.pid" mqnamesrv.js); then
    echo "name server is already running (pid $pid)"
  else
    # A fresh log per run, so waitBoot does not find the previous run's boot line.
    : > "$LOG_DIR/namesrv.log"
    # A namesrv.conf beside the broker confs (e.g. aclEnable=true, see README "RocketMQ ACL") is
    # the name server's -c file; -n still sets the port.
    if [ -f "$CONF_DIR/namesrv.conf" ]; then
      nohup sh bin/mqnamesrv -c "$CONF_DIR/namesrv.conf" -n "$NAMESRV_PORT" >> "$LOG_DIR/namesrv.log" 2>&1 < /dev/null &
    else
      nohup sh bin/mqnamesrv -n "$NAMESRV_PORT" >> "$LOG_DIR/namesrv.log" 2>&1 < /dev/null &
    fi
    pid=$!
    echo "$pid" > "$LOG_DIR/namesrv.pid"
    if waitBoot "name server" "$pid" "$LOG_DIR/namesrv.log" "The Name Server boot success"; then
      echo "name server started (pid $pid, port $NAMESRV_PORT, log $LOG_DIR/namesrv.log)"
    else
      # Brokers without their name server would run unseen by clients and mqadmin: stop here.
      if kill -0 "$pid" 2>/dev/null; then kill -s TERM "$pid"; fi
      rm -f "$LOG_DIR/namesrv.pid"
      echo "start aborted: the brokers were not started"
      exit 1
    fi
  fi
  # The group secret (dLegerPeerSecretFile) is created on the first start: a new group is never
  # open to anyone who reaches its peer ports. Every member's conf names the same file.
  for node in $NODES; do
    secret=$(sed -n 's/^[[:space:]]*dLegerPeerSecretFile[[:space:]]*=[[:space:]]*//p' "$CONF_DIR/broker-$node.conf" | tail -n 1 | tr -d '\r')
    if [ -n "$secret" ]; then node dist/src/cli/peer-secret.js "$secret" || exit 1; fi
  done
  started=""
  for node in $NODES; do
    conf="$CONF_DIR/broker-$node.conf"
    if pid=$(ours "$LOG_DIR/broker-$node.pid" "$conf"); then
      echo "broker $node is already running (pid $pid)"
      continue
    fi
    # All three in the background before waiting: a broker only finishes booting once its group
    # can elect, which needs a majority up.
    : > "$LOG_DIR/broker-$node.log"
    nohup sh bin/mqbroker -c "$conf" >> "$LOG_DIR/broker-$node.log" 2>&1 < /dev/null &
    echo "$!" > "$LOG_DIR/broker-$node.pid"
    started="$started $node:$!"
  done
  for item in $started; do
    node=${item%%:*}
    pid=${item#*:}
    if waitBoot "broker $node" "$pid" "$LOG_DIR/broker-$node.log" "boot success"; then
      echo "broker $node started (pid $pid, conf $CONF_DIR/broker-$node.conf, log $LOG_DIR/broker-$node.log)"
    else
      failed=1
    fi
  done
  if [ $failed -ne 0 ]; then
    echo "start incomplete: fix the above, then: sh $0 stop; sh $0 start"
    exit 1
  fi
  echo "check the group with: sh bin/mqadmin clusterList -n 127.0.0.1:$NAMESRV_PORT"
  if [ "${FAST_TRY_CONSOLE:-0}" = 1 ]; then startConsole || exit 1; fi
}

# The web console (issue 15), when FAST_TRY_CONSOLE=1: after the brokers, so its first poll sees them.
startConsole() {
  if pid=$(ours "$LOG_DIR/console.pid" mqconsole.js); then
    url=$(sed -n 's/^mqconsole listening on \(http:[^ ]*\).*/\1/p' "$LOG_DIR/console.log" | tail -n 1)
    echo "console is already running (pid $pid): $url"
    return 0
  fi
  : > "$LOG_DIR/console.log"
  # shellcheck disable=SC2086 # FAST_TRY_CONSOLE_ARGS is a list of options
  nohup sh bin/mqconsole -n "127.0.0.1:$NAMESRV_PORT" --port "${FAST_TRY_CONSOLE_PORT:-8080}" ${FAST_TRY_CONSOLE_ARGS:-} >> "$LOG_DIR/console.log" 2>&1 < /dev/null &
  pid=$!
  echo "$pid" > "$LOG_DIR/console.pid"
  if ! waitBoot "console" "$pid" "$LOG_DIR/console.log" "mqconsole listening on"; then
    rm -f "$LOG_DIR/console.pid"
    return 1
  fi
  url=$(sed -n 's/^mqconsole listening on \(http:[^ ]*\).*/\1/p' "$LOG_DIR/console.log" | tail -n 1)
  echo "console: $url (pid $pid, log $LOG_DIR/console.log)"
}

# stopGroup "NAME|PIDFILE|MARKER"...: TERM to every live pid of ours, wait up to GRACE seconds for
# all of them together, KILL the rest.
stopGroup() {
  pids=""
  for item in "$@"; do
    name=${item%%|*}
    rest=${item#*|}
    pidfile=${rest%%|*}
    marker=${rest#*|}
    if pid=$(ours "$pidfile" "$marker"); then
      kill -s TERM "$pid" 2>/dev/null
      pids="$pids ${name% *}_${name#* }:$pid"
    elif [ -f "$pidfile" ]; then
      echo "$name is not running (stale pid file removed)"
    fi
    rm -f "$pidfile"
  done
  [ -n "$pids" ] || return 0
  i=0
  while [ $i -lt $((GRACE * 10)) ]; do
    alive=0
    for item in $pids; do kill -0 "${item#*:}" 2>/dev/null && alive=1; done
    [ $alive -eq 0 ] && break
    sleep 0.1
    i=$((i + 1))
  done
  for item in $pids; do
    name=$(echo "${item%%:*}" | tr _ ' ')
    pid=${item#*:}
    if kill -0 "$pid" 2>/dev/null; then
      kill -s KILL "$pid" 2>/dev/null
      echo "$name (pid $pid) did not exit within ${GRACE} s of TERM: killed"
    else
      echo "$name (pid $pid) stopped"
    fi
  done
}

stop() {
  found=0
  for f in "$LOG_DIR"/console.pid "$LOG_DIR"/namesrv.pid "$LOG_DIR"/broker-n0.pid "$LOG_DIR"/broker-n1.pid "$LOG_DIR"/broker-n2.pid; do
    [ -f "$f" ] && found=1
  done
  if [ $found -eq 0 ]; then
    echo "nothing to stop (no pid files in $LOG_DIR)"
    return 0
  fi
  # The console first (it only reads), then the brokers, so they can unregister from the
  # still-running name server.
  [ -f "$LOG_DIR/console.pid" ] && stopGroup "console|$LOG_DIR/console.pid|mqconsole.js"
  stopGroup "broker n0|$LOG_DIR/broker-n0.pid|$CONF_DIR/broker-n0.conf" \
            "broker n1|$LOG_DIR/broker-n1.pid|$CONF_DIR/broker-n1.conf" \
            "broker n2|$LOG_DIR/broker-n2.pid|$CONF_DIR/broker-n2.conf"
  stopGroup "name server|$LOG_DIR/namesrv.pid|mqnamesrv.js"
}

case "$1" in
  start) checkConf; start ;;
  stop) stop ;;
  *) echo "Usage: sh $0 start|stop"; exit 1 ;;
esac
