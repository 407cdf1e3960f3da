// ControlServer: a heca process's control socket: a UNIX stream socket created mode 0600, every
// peer checked with SO_PEERCRED, served on a thread of its own (poll, accept, JSON lines).
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "kernel/base/fd.h"
#include "kernel/base/result.h"
#include "vmm/control/control_protocol.h"

namespace heca::vmm::control {

// Connections served at once; one more is told kTooManyClients and closed.
inline constexpr std::size_t kMaxClients = 16;

// Whether a peer with `peer_uid` may use a socket served by `server_uid`: the same user or root.
[[nodiscard]] bool peer_allowed(uid_t peer_uid, uid_t server_uid);

// Removes the socket at `path` when nobody serves it any more (its process was killed). Success
// when nothing is left there; an error naming the path when it is live or is no socket.
[[nodiscard]] Status remove_stale_socket(const std::string& path);

// THREADS: bind(), serve(), stop() and the destructor on one owning thread; the target's
// methods run on the server's own thread, which alone touches clients_.
class ControlServer {
 public:
  // Checks `path` (its directory exists; it is short enough; nothing is there, or only the
  // socket of a process that is gone, which is replaced), then binds (mode 0600) and listens.
  // Errors name the path. Connections wait in the backlog until serve().
  [[nodiscard]] static Result<std::unique_ptr<ControlServer>> bind(const std::string& path);
  // Stops serving and removes the socket file.
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // Starts the server thread. `target` must outlive stop() (or the destructor).
  void serve(ControlTarget& target);
  // Closes every connection and joins the server thread (idempotent).
  void stop();
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  struct Client {
    Fd fd;
    std::string pending;  // bytes after the last '\n'
  };
  ControlServer(std::string path, Fd listener, Pipe wake);
  void run();
  void accept_client();
  // Reads what the client sent and answers every complete line; false: close the client.
  [[nodiscard]] bool serve_client(Client& client);
  [[nodiscard]] bool answer_lines(Client& client);

  const std::string path_;
  Fd listener_;
  Pipe wake_;                        // a byte on wake_.write ends run()
  ControlTarget* target_ = nullptr;  // set before the thread starts
  std::vector<Client> clients_;      // server thread only
  std::thread thread_;
};

// Serves `target` on `server` (when there is one) from construction to destruction: declared
// after the target, it stops the server's thread before the target goes.
// THREADS: the thread that owns the server.
class ServingScope {
 public:
  ServingScope(ControlServer* server, ControlTarget& target) : server_(server) {
    if (server_ != nullptr) server_->serve(target);
  }
  ~ServingScope() {
    if (server_ != nullptr) server_->stop();
  }
  ServingScope(const ServingScope&) = delete;
  ServingScope& operator=(const ServingScope&) = delete;

 private:
  ControlServer* server_;
};

// ControlServer::bind(path), or no server when `path` is empty (no --control).
[[nodiscard]] Result<std::unique_ptr<ControlServer>> bind_if_given(const std::string& path);

}  // namespace heca::vmm::control
