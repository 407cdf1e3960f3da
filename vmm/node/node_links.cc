#include "vmm/node/node_links.h"

#include <x86intrin.h>

#include <algorithm>
#include <variant>

#include <fmt/format.h>

#include "coherence/wire_rules.h"
#include "io-aggregation/io_wire.h"
#include "kernel/base/log.h"
#include "kernel/base/overloaded.h"

namespace heca::vmm::node {
namespace {

bool is_io_type(std::uint8_t type) {
  return coherence::wire::family_of(type) == coherence::wire::Family::kIo;
}

}  // namespace

const char* ipi_kind_name(IpiKind kind) {
  switch (kind) {
    case IpiKind::kFixed: return "fixed";
    case IpiKind::kNmi: return "nmi";
    case IpiKind::kInit: return "init";
    case IpiKind::kSipi: return "sipi";
  }
  return "?";
}

NodeLinks::NodeLinks(NodeLinksConfig config, coherence::EventLoop loop)
    : config_(std::move(config)), loop_(std::move(loop)) {}

Result<std::unique_ptr<NodeLinks>> NodeLinks::connect(NodeLinksConfig config) {
  auto loop = coherence::EventLoop::create();
  if (!loop) return wrap_error(loop.error(), "creating the link event loop");
  std::unique_ptr<NodeLinks> links(new NodeLinks(std::move(config), std::move(*loop)));
  const NodeLinksConfig& cfg = links->config_;
  std::vector<NodeId> others;
  for (const auto& peer : cfg.peers) {
    if (peer.id != cfg.self) others.push_back(peer.id);
  }
  NodeLinks* self = links.get();
  if (cfg.self == cfg.io_node) {
    links->server_ = std::make_unique<io::IoServer>(
        links->loop_, *cfg.bus,
        io::IoServerConfig{.self = cfg.self, .peers = others, .on_peer_failed = {}});
  } else {
    links->forwarder_ = std::make_unique<io::IoForwarder>(
        links->loop_,
        io::IoForwarderConfig{
            .self = cfg.self,
            .io_node = cfg.io_node,
            .on_guest_exit = [self](std::uint32_t code) { self->config_.on_guest_exit(code); },
            .on_link_failed = [self](const Error& why) {
              if (!self->stopping_) self->config_.on_link_failed(why.message());
            }});
  }
  auto tcp = coherence::TcpTransport::create(
      links->loop_,
      {.self = cfg.self, .peers = cfg.peers, .connect_timeout = cfg.connect_timeout, .key = cfg.key},
      *links);
  if (!tcp) return wrap_error(tcp.error(), "creating the node links");
  links->tcp_ = std::move(*tcp);
  if (links->server_) links->server_->set_transport(*links->tcp_);
  if (links->forwarder_) links->forwarder_->set_transport(*links->tcp_);
  if (auto s = links->tcp_->connect_all(); !s) return wrap_error(s.error(), "connecting the node links");
  links->thread_ = std::thread([self] {
    if (auto s = self->loop_.run(); !s) spdlog::error("link event loop: {}", s.error().message());
  });
  return links;
}

NodeLinks::~NodeLinks() { shut_down(); }

void NodeLinks::shut_down() {
  stopping_ = true;
  if (!thread_.joinable()) return;
  loop_.stop();
  thread_.join();
}

void NodeLinks::send_ipi(NodeId to, IpiKind kind, std::uint32_t apic_id, std::uint8_t vector) {
  ipis_sent_[static_cast<std::size_t>(kind)].fetch_add(1, std::memory_order_relaxed);
  loop_.post([this, to, kind, apic_id, vector] {
    const coherence::wire::Header header = encode_link(
        ForwardedInterrupt{.kind = kind, .apic_id = apic_id, .vector = vector}, config_.self);
    if (auto s = tcp_->send(to, header, {}); !s && !stopping_) {
      config_.on_link_failed(fmt::format("forwarding an interrupt to node {}: {}", to,
                                         s.error().message()));
    }
  });
}

void NodeLinks::broadcast_guest_exit(std::uint32_t exit_code) {
  if (server_) server_->broadcast_guest_exit(exit_code);
}

void NodeLinks::broadcast_guest_stop(std::uint32_t exit_code) {
  loop_.post([this, exit_code] {
    const coherence::wire::Header header = encode_link(
        GuestStop{.exit_code = static_cast<std::uint8_t>(std::min<std::uint32_t>(exit_code, 0xFF))},
        config_.self);
    for (const auto& peer : config_.peers) {
      // A peer already gone needs no telling; its loss is reported on its own.
      if (peer.id != config_.self) (void)tcp_->send(peer.id, header, {});
    }
  });
}

bool NodeLinks::forward_read(io::AddressSpace space, std::uint64_t addr,
                             std::span<std::uint8_t> data) {
  if (!forwarder_) return false;
  auto s = forwarder_->read(space, addr, data);
  if (!s && !stopping_) config_.on_link_failed(s.error().message());
  return s.has_value();
}

bool NodeLinks::forward_write(io::AddressSpace space, std::uint64_t addr,
                              std::span<const std::uint8_t> data) {
  if (!forwarder_) return false;
  auto s = forwarder_->write(space, addr, data);
  if (!s && !stopping_) config_.on_link_failed(s.error().message());
  return s.has_value();
}

void NodeLinks::request_stop(const std::string& why) {
  stopping_ = true;
  if (forwarder_) forwarder_->request_stop(why);
}

coherence::TransportHandler& NodeLinks::io_handler() {
  if (server_) return *server_;
  return *forwarder_;
}

std::span<std::uint8_t> NodeLinks::payload_destination(NodeId from,
                                                       const coherence::wire::Header& header) {
  if (is_io_type(header.type)) return io_handler().payload_destination(from, header);
  return {};
}

Result<TscOffset> NodeLinks::measure_tsc_offset(NodeId reference, int rounds,
                                                std::chrono::milliseconds timeout) {
  std::optional<TscOffset> best;
  std::uint64_t best_round_trip = UINT64_MAX;
  for (int round = 0; round < rounds; ++round) {
    std::unique_lock lock(probe_mu_);
    const std::uint64_t sequence = ++probe_sequence_;
    reply_tsc_.reset();
    const std::uint64_t sent = __rdtsc();
    loop_.post([this, reference, sequence] {
      const coherence::wire::Header probe =
          encode_link(TscProbe{.sequence = sequence}, config_.self);
      (void)tcp_->send(reference, probe, {});  // a lost link shows as a missing reply
    });
    if (!probe_cv_.wait_for(lock, timeout, [this] { return reply_tsc_.has_value(); })) {
      return make_error(fmt::format("node {} did not answer a clock probe within {} ms",
                                    reference, timeout.count()));
    }
    const std::uint64_t round_trip = reply_local_tsc_ - sent;
    if (round_trip < best_round_trip) {
      best_round_trip = round_trip;
      const std::uint64_t midpoint = sent + round_trip / 2;
      best = TscOffset{.offset = static_cast<std::int64_t>(*reply_tsc_ - midpoint),
                       .uncertainty = round_trip / 2};
    }
  }
  if (!best) return make_error("no clock probe was made");
  return *best;
}

void NodeLinks::on_message(NodeId from, const coherence::wire::Header& header,
                           std::span<const std::uint8_t> payload) {
  if (is_io_type(header.type)) return io_handler().on_message(from, header, payload);
  auto message = decode_link(header, payload, from);
  if (!message) {
    // Nothing more is read from that link; its loss stops the guest and names the reason.
    tcp_->disconnect(from, Error{EPROTO, fmt::format("node {} sent {}", from, message.error().what)});
    return;
  }
  std::visit(Overloaded{[&](const TscProbe& probe) {
                          const auto reply =
                              encode_link(TscReply{.sequence = probe.sequence, .tsc = __rdtsc()},
                                          config_.self);
                          (void)tcp_->send(from, reply, {});  // a lost link is reported on its own
                        },
                        [&](const TscReply& reply) { on_tsc_reply(reply); },
                        [&](const GuestStop& stop) {
                          if (config_.on_guest_stop) config_.on_guest_stop(from, stop.exit_code);
                        },
                        [&](const ForwardedInterrupt& ipi) {
                          ipis_received_[static_cast<std::size_t>(ipi.kind)].fetch_add(
                              1, std::memory_order_relaxed);
                          config_.on_ipi(ipi.kind, ipi.apic_id, ipi.vector);
                        }},
             *message);
}

void NodeLinks::on_tsc_reply(const TscReply& reply) {
  const std::uint64_t now = __rdtsc();
  {
    const std::lock_guard lock(probe_mu_);
    if (reply.sequence != probe_sequence_) return;  // a late reply to an old probe
    reply_tsc_ = reply.tsc;
    reply_local_tsc_ = now;
  }
  probe_cv_.notify_all();
}

void NodeLinks::on_peer_lost(NodeId peer, const Error& why) {
  // After the guest ended, peers closing their links is the normal way out.
  if (stopping_) return;
  io_handler().on_peer_lost(peer, why);
  const auto& address = config_.peers.at(peer);
  config_.on_link_failed(fmt::format("lost node {} ({}:{}): {}", peer, address.host, address.port,
                                     why.message()));
}

NodeLinksStats NodeLinks::stats() const {
  NodeLinksStats stats;
  for (std::size_t k = 0; k < kIpiKindCount; ++k) {
    stats.ipis_sent[k] = ipis_sent_[k].load();
    stats.ipis_received[k] = ipis_received_[k].load();
  }
  if (forwarder_) stats.forwarded_io = forwarder_->stats();
  if (server_) stats.served_io = server_->stats();
  return stats;
}

std::vector<std::string> stats_lines(const NodeLinksStats& stats) {
  std::vector<std::string> lines;
  std::string ipis = "ipis forwarded:";
  for (std::size_t k = 0; k < kIpiKindCount; ++k) {
    ipis += fmt::format(" {}={}/{}", ipi_kind_name(static_cast<IpiKind>(k)), stats.ipis_sent[k],
                        stats.ipis_received[k]);
  }
  lines.push_back(ipis + " (sent/received)");
  if (const auto& s = stats.forwarded_io) {
    lines.push_back(fmt::format(
        "forwarded io: reads={} writes={} unclaimed={} failed={} round trip p50={} us p99={} us",
        s->reads, s->writes, s->unclaimed, s->failed, s->round_trip.p50.count() / 1000,
        s->round_trip.p99.count() / 1000));
  }
  if (const auto& s = stats.served_io) {
    lines.push_back(fmt::format("served io: reads={} writes={} guest_exits_sent={}", s->reads,
                                s->writes, s->guest_exits_sent));
  }
  return lines;
}

}  // namespace heca::vmm::node
