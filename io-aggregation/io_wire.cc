#include "io-aggregation/io_wire.h"

#include <algorithm>
#include <string>

#include "kernel/base/check.h"

namespace heca::io {
namespace {

using coherence::wire::Header;

constexpr std::uint64_t kPortLimit = 0x10000;
constexpr std::size_t kGuestExitPayload = 4;
constexpr std::size_t kInterruptPayload = 8;

bool is_mmio(IoMessageType type) {
  return type == IoMessageType::kMmioRead || type == IoMessageType::kMmioWrite;
}

std::uint16_t allowed_flags(IoMessageType type) {
  return type == IoMessageType::kIoReply ? kFlagUnclaimed : std::uint16_t{0};
}

void put_u32(std::span<std::uint8_t> out, std::uint32_t value) {
  for (std::size_t i = 0; i < 4; ++i) out[i] = static_cast<std::uint8_t>(value >> (8 * i));
}

std::uint32_t get_u32(std::span<const std::uint8_t> in) {
  std::uint32_t value = 0;
  for (std::size_t i = 0; i < 4; ++i) value |= static_cast<std::uint32_t>(in[i]) << (8 * i);
  return value;
}

std::unexpected<Error> invalid(std::string_view type, const std::string& what) {
  return make_error(std::string(type) + ": " + what, EPROTO);
}

// The payload length the type requires, given the header; false when it is not allowed.
bool payload_length_ok(IoMessageType type, std::uint32_t length) {
  switch (type) {
    case IoMessageType::kPioRead:
    case IoMessageType::kMmioRead:
      return length == 1;
    case IoMessageType::kPioWrite:
    case IoMessageType::kMmioWrite:
      return valid_access_size(is_mmio(type), length);
    case IoMessageType::kIoReply:
      return length == 0 || valid_access_size(true, length);
    case IoMessageType::kGuestExit:
      return length == kGuestExitPayload;
    case IoMessageType::kInterrupt:
      return length == kInterruptPayload;
  }
  return false;
}

Status check_address(const IoMessage& m) {
  const std::string_view name = type_name(m.type);
  if (!is_request(m.type)) return {};
  if (!valid_access_size(is_mmio(m.type), m.size)) {
    return invalid(name, "access size " + std::to_string(m.size) + " (allowed: 1, 2, 4" +
                             (is_mmio(m.type) ? ", 8)" : ")"));
  }
  const bool pio = !is_mmio(m.type);
  if (pio && m.address >= kPortLimit) {
    return invalid(name, "port " + std::to_string(m.address) + " out of range");
  }
  return {};
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

IoMessage make_interrupt(std::uint32_t apic_id, std::uint8_t vector) {
  IoMessage m;
  m.type = IoMessageType::kInterrupt;
  m.apic_id = apic_id;
  m.vector = vector;
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
  switch (type) {
    case IoMessageType::kPioRead:
      return "PioRead";
    case IoMessageType::kPioWrite:
      return "PioWrite";
    case IoMessageType::kMmioRead:
      return "MmioRead";
    case IoMessageType::kMmioWrite:
      return "MmioWrite";
    case IoMessageType::kIoReply:
      return "IoReply";
    case IoMessageType::kGuestExit:
      return "GuestExit";
    case IoMessageType::kInterrupt:
      return "Interrupt";
  }
  return "unknown";
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
    put_u32(out.payload, m.exit_code);
    length = kGuestExitPayload;
  } else if (m.type == IoMessageType::kInterrupt) {
    put_u32(out.payload, m.apic_id);
    out.payload[4] = m.vector;
    length = kInterruptPayload;
  } else {
    std::copy_n(m.data.begin(), m.size, out.payload.begin());
  }
  out.header.payload_length = static_cast<std::uint32_t>(length);
  return out;
}

Status validate_header(const Header& header) {
  if (header.type < kFirstIoMessageType || header.type > kLastIoMessageType) {
    return make_error("unknown I/O message type " + std::to_string(header.type), EPROTO);
  }
  const auto type = static_cast<IoMessageType>(header.type);
  const std::string_view name = type_name(type);
  if ((header.flags & ~allowed_flags(type)) != 0) {
    return invalid(name, "unknown flags " + std::to_string(header.flags));
  }
  if (!payload_length_ok(type, header.payload_length)) {
    return invalid(name, "bad size: payload length " + std::to_string(header.payload_length));
  }
  if (!is_request(type) && header.page != 0) {
    return invalid(name, "address field " + std::to_string(header.page) + " must be zero");
  }
  if ((type == IoMessageType::kGuestExit || type == IoMessageType::kInterrupt) &&
      header.request_id != 0) {
    return invalid(name, "request id must be zero");
  }
  return {};
}

Result<IoMessage> decode(const Header& header, std::span<const std::uint8_t> payload) {
  if (auto ok = validate_header(header); !ok) return std::unexpected(ok.error());
  const auto type = static_cast<IoMessageType>(header.type);
  if (payload.size() != header.payload_length) {
    return invalid(type_name(type), "payload of " + std::to_string(payload.size()) +
                                        " bytes, header says " +
                                        std::to_string(header.payload_length));
  }
  IoMessage m;
  m.type = type;
  m.flags = header.flags;
  m.sender = header.sender;
  m.request_id = header.request_id;
  m.address = header.page;
  if (type == IoMessageType::kPioRead || type == IoMessageType::kMmioRead) {
    m.size = payload[0];
  } else if (type == IoMessageType::kGuestExit) {
    m.exit_code = get_u32(payload);
  } else if (type == IoMessageType::kInterrupt) {
    m.apic_id = get_u32(payload);
    m.vector = payload[4];
    if (payload[5] != 0 || payload[6] != 0 || payload[7] != 0) {
      return invalid(type_name(type), "reserved bytes must be zero");
    }
  } else {
    m.size = static_cast<std::uint8_t>(payload.size());
    std::copy(payload.begin(), payload.end(), m.data.begin());
  }
  if (auto ok = check_address(m); !ok) return std::unexpected(ok.error());
  return m;
}

}  // namespace heca::io
