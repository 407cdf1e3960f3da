#include "io-aggregation/io_wire.h"

#include <algorithm>
#include <string>

#include "coherence/wire_rules.h"
#include "kernel/base/check.h"
#include "kernel/base/le_bytes.h"

namespace heca::io {
namespace {

using coherence::wire::any;
using coherence::wire::at_most;
using coherence::wire::bits;
using coherence::wire::Family;
using coherence::wire::Header;
using coherence::wire::lengths;
using coherence::wire::TypeRule;
using coherence::wire::zero;

constexpr std::uint64_t kPortLimit = 0x10000;
constexpr std::size_t kGuestExitPayload = 4;

// One entry per type of the I/O range (coherence/wire_rules.h), in type order.
constexpr std::array<TypeRule, 6> kRules = {{
    {0x40, "PioRead", zero(), at_most(kPortLimit - 1, "page (port)"), any(), lengths({1})},
    {0x41, "PioWrite", zero(), at_most(kPortLimit - 1, "page (port)"), any(), lengths({1, 2, 4})},
    {0x42, "MmioRead", zero(), any(), any(), lengths({1})},
    {0x43, "MmioWrite", zero(), any(), any(), lengths({1, 2, 4, 8})},
    {0x44, "IoReply", bits(kFlagUnclaimed), zero(), any(), lengths({0, 1, 2, 4, 8})},
    {0x45, "GuestExit", zero(), zero(), zero(), lengths({kGuestExitPayload})},
}};

static_assert(kRules.size() == kLastIoMessageType - kFirstIoMessageType + 1);
static_assert(range_of(Family::kIo).first == kFirstIoMessageType &&
              range_of(Family::kIo).last == kLastIoMessageType);

bool is_mmio(IoMessageType type) {
  return type == IoMessageType::kMmioRead || type == IoMessageType::kMmioWrite;
}

std::unexpected<Error> invalid(std::string_view type, const std::string& what) {
  return make_error(std::string(type) + ": " + what, EPROTO);
}

// The access size a read request asks for (its one payload byte).
Status check_read_size(const IoMessage& m) {
  if (m.type != IoMessageType::kPioRead && m.type != IoMessageType::kMmioRead) return {};
  if (valid_access_size(is_mmio(m.type), m.size)) return {};
  return invalid(type_name(m.type), "access size " + std::to_string(m.size) + " (allowed: 1, 2, 4" +
                                        (is_mmio(m.type) ? ", 8)" : ")"));
}

}  // namespace

IoMessage make_read_request(bool mmio, std::uint64_t address, std::size_t size) {
  HECA_CHECK(valid_access_size(mmio, size));
  IoMessage m;
  m.type = mmio ? IoMessageType::kMmioRead : IoMessageType::kPioRead;
  m.address = address;
  m.size = static_cast<std::uint8_t>(size);
  return m;
}

IoMessage make_write_request(bool mmio, std::uint64_t address, std::span<const std::uint8_t> data) {
  HECA_CHECK(valid_access_size(mmio, data.size()));
  IoMessage m;
  m.type = mmio ? IoMessageType::kMmioWrite : IoMessageType::kPioWrite;
  m.address = address;
  m.size = static_cast<std::uint8_t>(data.size());
  std::copy(data.begin(), data.end(), m.data.begin());
  return m;
}

IoMessage make_reply(std::uint64_t request_id, std::span<const std::uint8_t> data, bool unclaimed) {
  HECA_CHECK(data.empty() || valid_access_size(true, data.size()));
  IoMessage m;
  m.type = IoMessageType::kIoReply;
  m.flags = unclaimed ? kFlagUnclaimed : std::uint16_t{0};
  m.request_id = request_id;
  m.size = static_cast<std::uint8_t>(data.size());
  std::copy(data.begin(), data.end(), m.data.begin());
  return m;
}

IoMessage make_guest_exit(std::uint32_t exit_code) {
  IoMessage m;
  m.type = IoMessageType::kGuestExit;
  m.exit_code = exit_code;
  return m;
}

bool valid_access_size(bool mmio, std::size_t size) {
  return size == 1 || size == 2 || size == 4 || (mmio && size == 8);
}

bool is_request(IoMessageType type) {
  return type == IoMessageType::kPioRead || type == IoMessageType::kPioWrite ||
         type == IoMessageType::kMmioRead || type == IoMessageType::kMmioWrite;
}

std::string_view type_name(IoMessageType type) {
  const auto index = static_cast<std::size_t>(type) - kFirstIoMessageType;
  return index < kRules.size() ? kRules[index].name : "unknown";
}

EncodedIoMessage encode(const IoMessage& m) {
  EncodedIoMessage out;
  out.header.type = static_cast<std::uint8_t>(m.type);
  out.header.flags = m.flags;
  out.header.sender = m.sender;
  out.header.request_id = m.request_id;
  out.header.page = is_request(m.type) ? m.address : 0;
  std::size_t length = m.size;
  if (m.type == IoMessageType::kPioRead || m.type == IoMessageType::kMmioRead) {
    out.payload[0] = m.size;
    length = 1;
  } else if (m.type == IoMessageType::kGuestExit) {
    put_le<std::uint32_t>(out.payload, 0, m.exit_code);
    length = kGuestExitPayload;
  } else {
    std::copy_n(m.data.begin(), m.size, out.payload.begin());
  }
  out.header.payload_length = static_cast<std::uint32_t>(length);
  return out;
}

Status validate_header(const Header& header) {
  auto rule = check_frame(Family::kIo, kRules, header, {});
  if (!rule) return std::unexpected(rule.error());
  return {};
}

Result<IoMessage> decode(const Header& header, std::span<const std::uint8_t> payload) {
  auto rule = check_frame(Family::kIo, kRules, header, {.payload = payload});
  if (!rule) return std::unexpected(rule.error());
  const auto type = static_cast<IoMessageType>(header.type);
  IoMessage m;
  m.type = type;
  m.flags = header.flags;
  m.sender = header.sender;
  m.request_id = header.request_id;
  m.address = header.page;
  if (type == IoMessageType::kPioRead || type == IoMessageType::kMmioRead) {
    m.size = payload[0];
  } else if (type == IoMessageType::kGuestExit) {
    m.exit_code = get_le<std::uint32_t>(payload, 0);
  } else {
    m.size = static_cast<std::uint8_t>(payload.size());
    std::copy(payload.begin(), payload.end(), m.data.begin());
  }
  if (auto ok = check_read_size(m); !ok) return std::unexpected(ok.error());
  return m;
}

}  // namespace heca::io
