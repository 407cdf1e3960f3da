// kvm-ballast: holds one idle KVM VM, with an in-kernel irqchip and one vCPU that never runs,
// for as long as it lives. A virtual host starts it at boot (host-init).
//
// Why: KVM guards scheduler and LAPIC paths with static keys (preempt_notifier_key, counted
// per VM; apic_sw_disabled, per vCPU whose APIC is software-disabled). Whenever the last VM or
// vCPU goes away and a new one comes, the host kernel patches its own text (__schedule
// included) with int3-based live patching. Every heca node process does that at start and exit,
// so a test run patched the host kernel dozens of times, and QEMU's multi-threaded TCG now and
// then kept running a stale translation of a patched site: one vCPU of the virtual host looped
// on an int3 that was no longer in memory while holding its runqueue lock, and the host wedged
// (soft lockups, `heca run` never returning). With this VM alive the counts never reach zero,
// so KVM users come and go without patching anything.
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static int fail(const char* what) {
  fprintf(stderr, "kvm-ballast: %s: %s\n", what, strerror(errno));
  return 1;
}

int main(void) {
  const int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (kvm < 0) return fail("opening /dev/kvm");
  const int vm = ioctl(kvm, KVM_CREATE_VM, 0);
  if (vm < 0) return fail("KVM_CREATE_VM");
  if (ioctl(vm, KVM_CREATE_IRQCHIP, 0) != 0) return fail("KVM_CREATE_IRQCHIP");
  if (ioctl(vm, KVM_CREATE_VCPU, 0) < 0) return fail("KVM_CREATE_VCPU");
  for (;;) pause();
}
