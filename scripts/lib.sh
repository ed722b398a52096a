# Shared by the bench and build scripts; sourced (`. scripts/lib.sh`), not run.

# One line about this machine for benchmark output: cores, CPU model, kernel.
machine() {
  echo "$(nproc) cores, $(awk '/model name/ {$1=$2=$3=""; print; exit}' /proc/cpuinfo | xargs), kernel $(uname -r)"
}

# A free TCP port on loopback (bound, then released for a server to take).
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
