#include "firmware/testguest/boot_info.h"

#include "firmware/testguest/arch.h"

namespace heca::firmware::guest {
namespace {

constexpr uint64_t kUint64Max = ~uint64_t{0};
constexpr uint32_t kE820EntrySize = 20;
constexpr uint32_t kE820Ram = 1;
constexpr uint32_t kMaxE820Entries = 128;
constexpr uint64_t kSdtHeaderSize = 36;
constexpr uint64_t kMadtEntriesOffset = 44;
constexpr uint8_t kMadtLocalApic = 0;
constexpr uint8_t kMadtLocalX2Apic = 9;
constexpr uint8_t kMadtMpWakeup = 0x10;  // ACPI 6.4 5.2.12.19: version u16, reserved u32, mailbox u64

bool key_is(const char* word, const char* key, const char** value) {
  while (*key != '\0') {
    if (*word++ != *key++) return false;
  }
  if (*word != '=') return false;
  *value = word + 1;
  return true;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n'; }

// True if the space- or NUL-terminated word at `text` is exactly `want`.
bool word_is(const char* text, const char* want) {
  while (*want != '\0' && *text == *want) {
    ++text;
    ++want;
  }
  return *want == '\0' && (*text == '\0' || is_space(*text));
}

// Decimal up to the next space; false on an empty, malformed or overflowing number.
bool parse_u64(const char* text, uint64_t* out) {
  uint64_t value = 0;
  const char* p = text;
  for (; *p != '\0' && !is_space(*p); ++p) {
    if (*p < '0' || *p > '9') return false;
    const auto digit = static_cast<uint64_t>(*p - '0');
    if (value > (kUint64Max - digit) / 10) return false;
    value = value * 10 + digit;
  }
  *out = value;
  return p != text;
}

// "0x" and hex digits up to the next space; false on an empty, malformed or overflowing number.
bool parse_hex_u64(const char* text, uint64_t* out) {
  if (text[0] != '0' || (text[1] != 'x' && text[1] != 'X')) return false;
  uint64_t value = 0;
  const char* p = text + 2;
  for (; *p != '\0' && !is_space(*p); ++p) {
    uint64_t digit = 0;
    if (*p >= '0' && *p <= '9') {
      digit = static_cast<uint64_t>(*p - '0');
    } else if (*p >= 'a' && *p <= 'f') {
      digit = static_cast<uint64_t>(*p - 'a' + 10);
    } else if (*p >= 'A' && *p <= 'F') {
      digit = static_cast<uint64_t>(*p - 'A' + 10);
    } else {
      return false;
    }
    if (value >> 60 != 0) return false;
    value = value << 4 | digit;
  }
  *out = value;
  return p != text + 2;
}

const char* parse_word(const char* word, GuestConfig* config) {
  const char* value = nullptr;
  if (key_is(word, "iters", &value)) return parse_u64(value, &config->iters) ? nullptr : "bad iters=";
  if (key_is(word, "mbw_kib", &value)) {
    if (!parse_u64(value, &config->mbw_kib) || config->mbw_kib == 0) return "bad mbw_kib=";
    return nullptr;
  }
  if (key_is(word, "mbw_reps", &value)) {
    if (!parse_u64(value, &config->mbw_reps) || config->mbw_reps == 0) return "bad mbw_reps=";
    return nullptr;
  }
  if (key_is(word, "tsc_khz", &value)) return parse_u64(value, &config->tsc_khz) ? nullptr : "bad tsc_khz=";
  if (key_is(word, "litmus", &value)) {
    if (!parse_hex_u64(value, &config->litmus_blob) || config->litmus_blob == 0) return "bad litmus=";
    return nullptr;
  }
  if (key_is(word, "ipi", &value)) return parse_u64(value, &config->ipi_rounds) ? nullptr : "bad ipi=";
  if (key_is(word, "checkin_s", &value)) {
    if (!parse_u64(value, &config->checkin_s) || config->checkin_s == 0) return "bad checkin_s=";
    return nullptr;
  }
  if (key_is(word, "fault", &value)) {
    if (word_is(value, "lost_update")) {
      config->lost_update = true;
    } else if (word_is(value, "lost_ipi")) {
      config->ipi_fault = IpiFault::kLost;
    } else if (word_is(value, "double_ipi")) {
      config->ipi_fault = IpiFault::kDouble;
    } else if (word_is(value, "triple_fault")) {
      config->triple_fault = true;
    } else if (word_is(value, "double_fault")) {
      config->double_fault = true;
    } else {
      return "unknown fault=";
    }
  }
  return nullptr;  // keys for others (console=, ...) are ignored
}

bool checksum_ok(uint64_t addr, uint64_t length) {
  uint8_t sum = 0;
  for (uint64_t i = 0; i < length; ++i) sum = static_cast<uint8_t>(sum + load8(addr + i));
  return sum == 0;
}

bool signature_is(uint64_t addr, const char* sig) {
  for (uint64_t i = 0; sig[i] != '\0'; ++i) {
    if (load8(addr + i) != static_cast<uint8_t>(sig[i])) return false;
  }
  return true;
}

// Walks the XSDT (8-byte entries) or RSDT (4-byte entries) for the MADT.
uint64_t find_madt(uint64_t sdt, uint64_t entry_size) {
  const uint64_t length = load32(sdt + 4);
  for (uint64_t off = kSdtHeaderSize; off + entry_size <= length; off += entry_size) {
    const uint64_t table = entry_size == 8 ? load64(sdt + off) : load32(sdt + off);
    if (table != 0 && signature_is(table, "APIC")) return table;
  }
  return 0;
}

bool add_cpu(CpuTable* cpus, uint32_t apic_id) {
  for (uint32_t i = 0; i < cpus->count; ++i) {
    if (cpus->apic_ids[i] == apic_id) return true;  // listed as both LAPIC and x2APIC
  }
  if (cpus->count == TG_MAX_CPUS) return false;
  cpus->apic_ids[cpus->count++] = apic_id;
  return true;
}

}  // namespace

const char* parse_cmdline(const char* cmdline, GuestConfig* config) {
  if (cmdline == nullptr) return nullptr;
  const char* p = cmdline;
  while (*p != '\0') {
    while (is_space(*p)) ++p;
    if (*p == '\0') break;
    if (const char* error = parse_word(p, config)) return error;
    while (*p != '\0' && !is_space(*p)) ++p;
  }
  return nullptr;
}

const char* parse_madt(uint64_t rsdp, CpuTable* cpus) {
  if (rsdp == 0 || !signature_is(rsdp, "RSD PTR ")) return "no ACPI RSDP";
  if (!checksum_ok(rsdp, 20)) return "bad RSDP checksum";
  const uint64_t xsdt = load8(rsdp + 15) >= 2 ? load64(rsdp + 24) : 0;
  const uint64_t madt = xsdt != 0 ? find_madt(xsdt, 8) : find_madt(load32(rsdp + 16), 4);
  if (madt == 0) return "no MADT";
  const uint64_t length = load32(madt + 4);
  if (!checksum_ok(madt, length)) return "bad MADT checksum";
  for (uint64_t off = kMadtEntriesOffset; off + 2 <= length;) {
    const uint8_t type = load8(madt + off);
    const uint8_t size = load8(madt + off + 1);
    if (size < 2 || off + size > length) return "malformed MADT entry";
    bool ok = true;
    if (type == kMadtLocalApic && size >= 8 && (load32(madt + off + 4) & 1) != 0) {
      ok = add_cpu(cpus, load8(madt + off + 3));
    } else if (type == kMadtLocalX2Apic && size >= 16 && (load32(madt + off + 8) & 1) != 0) {
      ok = add_cpu(cpus, load32(madt + off + 4));
    } else if (type == kMadtMpWakeup && size >= 16) {
      cpus->wakeup_mailbox = load64(madt + off + 8);
    }
    if (!ok) return "too many CPUs in MADT";
    off += size;
  }
  return cpus->count == 0 ? "no enabled CPUs in MADT" : nullptr;
}

bool e820_covers(uint64_t boot_params, uint64_t start, uint64_t end) {
  const uint32_t n = load8(boot_params + kBpE820Entries);
  for (uint32_t i = 0; i < n && i < kMaxE820Entries; ++i) {
    const uint64_t entry = boot_params + kBpE820Table + i * kE820EntrySize;
    const uint64_t addr = load64(entry);
    if (load32(entry + 16) == kE820Ram && addr <= start && end <= addr + load64(entry + 8)) return true;
  }
  return false;
}

uint64_t e820_ram_end(uint64_t boot_params) {
  uint64_t highest = 0;
  const uint32_t n = load8(boot_params + kBpE820Entries);
  for (uint32_t i = 0; i < n && i < kMaxE820Entries; ++i) {
    const uint64_t entry = boot_params + kBpE820Table + i * kE820EntrySize;
    const uint64_t end = load64(entry) + load64(entry + 8);
    if (load32(entry + 16) == kE820Ram && end > highest) highest = end;
  }
  return highest;
}

}  // namespace heca::firmware::guest
