# Sourced by the builders of the ssh "host" images (scripts/build-sshd-image.sh for the integration
# tests, test/k8s/ssh-host-image.sh for the e2e test): what both images have.
#   sshd_host_context <base image> <context dir> <work dir>
# Writes a docker build context: the .debs openssh-server, openssh-sftp-server and sudo need on top of
# <base> (scripts/lib/image-debs.sh), and a Dockerfile that installs them, lets sshd take keys only
# (its ed25519 host key is made on first start, never baked in), enables it under systemd and adds a
# user "mk" with passwordless sudo and an empty ~/.ssh. The caller appends its own lines to the
# Dockerfile, at least its PermitRootLogin policy (to /etc/ssh/sshd_config.d/mk-test.conf), and puts
# this file ($SSHD_HOST_LIB) into its image tag's hash.
# shellcheck source=image-debs.sh
source "$(dirname "${BASH_SOURCE[0]}")/image-debs.sh"
SSHD_HOST_LIB="${BASH_SOURCE[0]}"

sshd_host_context() {
  local base=$1 ctx=$2 work=$3
  image_debs "$base" "$ctx/debs" "$work" openssh-server openssh-sftp-server sudo
  {
    echo "FROM $base"
    cat <<'EOF_DOCKERFILE'
COPY debs /tmp/debs
RUN dpkg -i /tmp/debs/*.deb >/tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log; exit 1; }; \
    rm -rf /tmp/debs /tmp/dpkg.log /etc/ssh/ssh_host_* \
 && printf '%s\n' \
      'HostKey /etc/ssh/ssh_host_ed25519_key' \
      'PasswordAuthentication no' \
      'KbdInteractiveAuthentication no' \
      'UsePAM no' \
      'MaxStartups 50' \
      'MaxSessions 50' \
      >/etc/ssh/sshd_config.d/mk-test.conf \
 && mkdir -p /etc/systemd/system/ssh.service.d \
 && printf '%s\n' '[Service]' \
      'ExecStartPre=' \
      "ExecStartPre=/bin/sh -c 'test -f /etc/ssh/ssh_host_ed25519_key || ssh-keygen -q -t ed25519 -N \"\" -f /etc/ssh/ssh_host_ed25519_key'" \
      'ExecStartPre=/usr/sbin/sshd -t' \
      >/etc/systemd/system/ssh.service.d/mk-hostkey.conf \
 && systemctl enable ssh.service \
 && useradd -m -s /bin/bash mk && usermod -p '*' mk \
 && printf 'mk ALL=(ALL) NOPASSWD: ALL\n' >/etc/sudoers.d/mk && chmod 0440 /etc/sudoers.d/mk \
 && install -d -m 0700 -o mk -g mk /home/mk/.ssh
EOF_DOCKERFILE
  } >"$ctx/Dockerfile"
}
