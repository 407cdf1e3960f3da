#include "vmm/proxy/proxy_firmware.h"

#include <sys/mman.h>

#include <string>
#include <vector>

#include "firmware/le_bytes.h"
#include "kernel/base/check.h"

namespace heca::vmm::proxy {
namespace {

using firmware::put_le;

constexpr std::uint64_t kLargePage = 2ULL << 20;
constexpr std::uint64_t kPageSize = 4096;
constexpr std::uint64_t kLowIdentityGib = 4;  // ProxyLayout::kLowPd's page directories
static_assert(ProxyLayout::kLowPd + kLowIdentityGib * kPageSize <= ProxyLayout::kSlots);
constexpr std::uint64_t kMaxArea = 1ULL << 30;  // one page directory
constexpr std::uint64_t kTablePresentWritable = 0x3;
constexpr std::uint64_t kLargePageFlags = 0x83;  // present | writable | 2 MiB
constexpr std::uint8_t kInterruptGate = 0x8E;    // present, DPL 0, 64-bit interrupt gate
constexpr std::uint32_t kMsrX2apicEoi = 0x80B;
constexpr std::uint32_t kMsrX2apicSvr = 0x80F;
constexpr std::uint32_t kSvrEnabled = 0x100 | kSpuriousVector;
constexpr std::uint16_t kTssLimit = 0x67;
constexpr std::uint8_t kInt3 = 0xCC;  // padding: if ever executed it reports fault #BP

// Hand-assembled x86-64 instructions; each method names the instruction it emits.
class Code {
 public:
  void mov_ecx(std::uint32_t imm) { imm32(0xB9, imm); }
  void mov_eax(std::uint32_t imm) { imm32(0xB8, imm); }
  void mov_dx(std::uint16_t imm) { bytes({0x66, 0xBA, lo(imm), hi(imm)}); }
  void out_eax_dx() { bytes({0xEF}); }
  void xor_eax_eax() { bytes({0x31, 0xC0}); }
  void xor_edx_edx() { bytes({0x31, 0xD2}); }
  void wrmsr() { bytes({0x0F, 0x30}); }
  void iretq() { bytes({0x48, 0xCF}); }
  // sti; hlt; jmp back to the sti: interrupts wake the hlt, and the loop halts again.
  void sti_hlt_loop() { bytes({0xFB, 0xF4, 0xEB, 0xFC}); }
  // cli; hlt; jmp back to the cli: stops for good (until the VMM re-parks the proxy).
  void cli_hlt_loop() { bytes({0xFA, 0xF4, 0xEB, 0xFC}); }
  void wrmsr_zero(std::uint32_t msr) {
    mov_ecx(msr);
    xor_eax_eax();
    xor_edx_edx();
    wrmsr();
  }
  [[nodiscard]] const std::vector<std::uint8_t>& bytes() const { return bytes_; }

 private:
  static std::uint8_t lo(std::uint16_t v) { return static_cast<std::uint8_t>(v); }
  static std::uint8_t hi(std::uint16_t v) { return static_cast<std::uint8_t>(v >> 8); }
  void imm32(std::uint8_t opcode, std::uint32_t imm) {
    bytes({opcode});
    for (int i = 0; i < 4; ++i) bytes({static_cast<std::uint8_t>(imm >> (8 * i))});
  }
  void bytes(std::initializer_list<std::uint8_t> b) { bytes_.insert(bytes_.end(), b); }
  std::vector<std::uint8_t> bytes_;
};

ReportKind kind_of_vector(std::uint32_t vector) {
  if (vector == 2) return ReportKind::kNmi;
  if (vector < 32) return ReportKind::kFault;
  if (vector == kSpuriousVector) return ReportKind::kSpurious;
  return ReportKind::kInterrupt;
}

// Reports (kind, vector) through kProxyPort; interrupts also EOI. Faults never return:
// the VMM re-parks the proxy when it sees the report.
Code stub(std::uint32_t vector) {
  const ReportKind kind = kind_of_vector(vector);
  Code code;
  code.mov_eax(kReportMagic | static_cast<std::uint32_t>(kind) << 8 | vector);
  code.mov_dx(kProxyPort);
  code.out_eax_dx();
  if (kind == ReportKind::kInterrupt) code.wrmsr_zero(kMsrX2apicEoi);
  if (kind == ReportKind::kFault) {
    code.cli_hlt_loop();
  } else {
    code.iretq();
  }
  return code;
}

Code park_entry() {
  Code code;
  code.mov_ecx(kMsrX2apicSvr);
  code.mov_eax(kSvrEnabled);
  code.xor_edx_edx();
  code.wrmsr();
  code.sti_hlt_loop();
  return code;
}

void place(std::span<std::uint8_t> area, std::uint64_t offset, const Code& code) {
  const auto& b = code.bytes();
  HECA_CHECK(offset + b.size() <= area.size());
  std::copy(b.begin(), b.end(), area.begin() + static_cast<std::ptrdiff_t>(offset));
}

void put_idt_gate(std::span<std::uint8_t> area, std::uint32_t vector, std::uint64_t handler) {
  const std::uint64_t low = (handler & 0xFFFF) | std::uint64_t{ProxyLayout::kCodeSelector} << 16 |
                            std::uint64_t{kInterruptGate} << 40 | ((handler >> 16) & 0xFFFF) << 48;
  const std::uint64_t entry = ProxyLayout::kIdt + vector * 16ULL;
  put_le<std::uint64_t>(area, entry, low);
  put_le<std::uint64_t>(area, entry + 8, handler >> 32);
}

void put_page_tables(std::span<std::uint8_t> area) {
  const std::uint64_t base = kProxyAreaGpa;
  put_le<std::uint64_t>(area, ProxyLayout::kPml4 + ((base >> 39) & 511) * 8,
                        (base + ProxyLayout::kPdpt) | kTablePresentWritable);
  put_le<std::uint64_t>(area, ProxyLayout::kPdpt + ((base >> 30) & 511) * 8,
                        (base + ProxyLayout::kPd) | kTablePresentWritable);
  for (std::uint64_t i = 0; i < area.size() / kLargePage; ++i) {
    put_le<std::uint64_t>(area, ProxyLayout::kPd + i * 8,
                          (base + i * kLargePage) | kLargePageFlags);
  }
  put_le<std::uint64_t>(area, ProxyLayout::kPml4, (base + ProxyLayout::kLowPdpt) | kTablePresentWritable);
  for (std::uint64_t gib = 0; gib < kLowIdentityGib; ++gib) {
    const std::uint64_t pd = ProxyLayout::kLowPd + gib * kPageSize;
    put_le<std::uint64_t>(area, ProxyLayout::kLowPdpt + gib * 8, (base + pd) | kTablePresentWritable);
    for (std::uint64_t i = 0; i < 512; ++i) {
      put_le<std::uint64_t>(area, pd + i * 8, ((gib << 30) + i * kLargePage) | kLargePageFlags);
    }
  }
}

std::uint64_t slot_offset(std::uint32_t slot) {
  return ProxyLayout::kSlots + slot * ProxyLayout::kSlotSize;
}

// GDT: null, flat 64-bit code, flat data, then the 16-byte descriptor of this slot's TSS.
void put_slot(std::span<std::uint8_t> area, std::uint32_t slot) {
  const std::uint64_t gdt = slot_offset(slot);
  const std::uint64_t tss = kProxyAreaGpa + gdt + ProxyLayout::kTss;
  put_le<std::uint64_t>(area, gdt + 8, 0x00AF'9B00'0000'FFFF);
  put_le<std::uint64_t>(area, gdt + 16, 0x00CF'9300'0000'FFFF);
  const std::uint64_t tss_low = kTssLimit | (tss & 0xFF'FFFF) << 16 | 0x8BULL << 40 |
                                ((tss >> 24) & 0xFF) << 56;  // present, busy 64-bit TSS
  put_le<std::uint64_t>(area, gdt + 24, tss_low);
  put_le<std::uint64_t>(area, gdt + 32, tss >> 32);
  put_le<std::uint64_t>(area, gdt + ProxyLayout::kTss + 4, kProxyAreaGpa + slot_offset(slot + 1));
  put_le<std::uint16_t>(area, gdt + ProxyLayout::kTss + 0x66, kTssLimit + 1);  // no I/O bitmap
}

kvm_segment flat_segment(std::uint16_t selector, std::uint8_t type, bool code) {
  kvm_segment s{};
  s.base = 0;
  s.limit = 0xFFFF'FFFF;
  s.selector = selector;
  s.type = type;
  s.present = 1;
  s.s = 1;
  s.l = code ? 1 : 0;
  s.db = code ? 0 : 1;
  s.g = 1;
  return s;
}

}  // namespace

Result<DecodedReport> decode_report(std::uint32_t value) {
  const std::uint32_t kind = (value >> 8) & 0xFF;
  if ((value & 0xFFFF'0000) != kReportMagic || kind < 1 || kind > 4) {
    return make_error("not a proxy report: " + std::to_string(value));
  }
  return DecodedReport{static_cast<ReportKind>(kind), static_cast<std::uint8_t>(value)};
}

std::uint64_t proxy_area_size(std::uint32_t proxy_slots) {
  const std::uint64_t bytes = slot_offset(proxy_slots);
  const std::uint64_t size = (bytes + kLargePage - 1) / kLargePage * kLargePage;
  HECA_CHECK(size <= kMaxArea);
  return size;
}

void build_proxy_area(std::span<std::uint8_t> area, std::uint32_t proxy_slots) {
  HECA_CHECK(area.size() == proxy_area_size(proxy_slots));
  std::fill(area.begin(), area.end(), std::uint8_t{0});
  std::fill(area.begin(), area.begin() + ProxyLayout::kIdt, kInt3);
  place(area, ProxyLayout::kParkEntry, park_entry());
  for (std::uint32_t v = 0; v < 256; ++v) {
    const std::uint64_t offset = ProxyLayout::kStubs + v * ProxyLayout::kStubSize;
    const Code code = stub(v);
    HECA_CHECK(code.bytes().size() <= ProxyLayout::kStubSize);
    place(area, offset, code);
    put_idt_gate(area, v, kProxyAreaGpa + offset);
  }
  put_page_tables(area);
  for (std::uint32_t slot = 0; slot < proxy_slots; ++slot) put_slot(area, slot);
}

Result<ProxyFirmware> ProxyFirmware::create(VmFd& vm, std::uint32_t memslot,
                                            std::uint32_t proxy_slots) {
  const std::uint64_t size = proxy_area_size(proxy_slots);
  auto area =
      Mapping::map(size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0, "proxy area");
  if (!area) return std::unexpected(area.error());
  build_proxy_area(area->bytes(), proxy_slots);
  if (auto s = vm.set_memory_region(memslot, kProxyAreaGpa, size, area->data()); !s) {
    return wrap_error(s.error(), "proxy area memslot");
  }
  return ProxyFirmware(std::move(*area), proxy_slots);
}

kvm_sregs ProxyFirmware::park_sregs(kvm_sregs current, std::uint32_t slot) const {
  HECA_CHECK(slot < slot_count_);
  constexpr std::uint64_t kCr0 = 0x8000'0033;  // PG | NE | ET | MP | PE
  current.cs = flat_segment(ProxyLayout::kCodeSelector, 0xB, true);
  current.ds = current.es = current.fs = current.gs = current.ss =
      flat_segment(ProxyLayout::kDataSelector, 0x3, false);
  kvm_segment tr{};
  tr.base = kProxyAreaGpa + slot_offset(slot) + ProxyLayout::kTss;
  tr.limit = kTssLimit;
  tr.selector = ProxyLayout::kTssSelector;
  tr.type = 0xB;
  tr.present = 1;
  current.tr = tr;
  current.gdt.base = kProxyAreaGpa + slot_offset(slot);
  current.gdt.limit = ProxyLayout::kGdtBytes - 1;
  current.idt.base = kProxyAreaGpa + ProxyLayout::kIdt;
  current.idt.limit = 256 * 16 - 1;
  current.cr0 = kCr0;
  current.cr3 = kProxyAreaGpa + ProxyLayout::kPml4;
  current.cr4 = 0x20;    // PAE
  current.efer = 0x500;  // LME | LMA
  // Enabled in x2APIC mode at the default window; the BSP flag stays KVM's.
  current.apic_base = 0xFEE0'0C00 | (current.apic_base & 0x100);
  return current;
}

kvm_regs ProxyFirmware::park_regs(std::uint32_t slot) const {
  HECA_CHECK(slot < slot_count_);
  kvm_regs regs{};
  regs.rip = kProxyAreaGpa + ProxyLayout::kParkEntry;
  regs.rsp = kProxyAreaGpa + slot_offset(slot + 1);
  regs.rflags = 0x2;
  return regs;
}

}  // namespace heca::vmm::proxy
