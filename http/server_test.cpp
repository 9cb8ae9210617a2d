#include "http/server.h"

#include <doctest/doctest.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/beast/core.hpp>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

namespace contacts {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

constexpr auto kPatience = 10s;  // a test that would hang fails after it instead

// Holds the requests a handler runs until it is opened; counts those that reached it.
class Gate {
 public:
  void wait() {
    std::unique_lock lock(mutex_);
    ++reached_;
    changed_.notify_all();
    changed_.wait(lock, [&] { return open_; });
  }
  void open() {
    std::lock_guard lock(mutex_);
    open_ = true;
    changed_.notify_all();
  }
  // Whether `n` requests reached the gate within kPatience.
  bool reached_by(int n) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, kPatience, [&] { return reached_ >= n; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int reached_ = 0;
  bool open_ = false;
};

// A handler that answers every request with its target, once the gate lets it through; a GET
// passes at once.
Handler gated(Gate& gate) {
  return [&gate](const HttpRequest& r) {
    if (r.method() != http::verb::get) gate.wait();
    return json_response(200, std::string(r.target()));
  };
}

HttpServerOptions with_pool(size_t waiting_threads) {
  HttpServerOptions options;
  options.waiting_threads = waiting_threads;
  return options;
}

// An HttpServer on an ephemeral loopback port whose io_context runs on ONE thread.
struct OneThreadServer {
  OneThreadServer(Handler handler, HttpServerOptions options)
      : server(ioc, std::move(handler), std::move(options)) {
    REQUIRE(server.listen("127.0.0.1", 0).ok());
    io_thread = std::thread([this] { ioc.run(); });
  }
  ~OneThreadServer() {
    server.stop();
    ioc.stop();
    if (io_thread.joinable()) io_thread.join();
  }

  asio::io_context ioc;
  HttpServer server;
  std::thread io_thread;
};

// A blocking client connection; a response that does not come within kPatience is an error.
class Client {
 public:
  explicit Client(uint16_t port) : stream_(ioc_) {
    stream_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  }
  void send(http::verb method, const std::string& target) {
    HttpRequest request{method, target, 11};
    request.set(http::field::host, "localhost");
    request.prepare_payload();
    http::write(stream_, request);
  }
  HttpResponse read() {
    HttpResponse response;
    auto ec = try_read(response);
    REQUIRE_MESSAGE(!ec, ec.message());
    return response;
  }
  // Whether the server closed the connection without a response.
  bool closed_unanswered() {
    HttpResponse response;
    auto ec = try_read(response);
    return ec == http::error::end_of_stream || ec == asio::error::connection_reset;
  }

 private:
  beast::error_code try_read(HttpResponse& response) {
    beast::error_code result = asio::error::would_block;
    stream_.expires_after(kPatience);
    http::async_read(stream_, buffer_, response,
                     [&](beast::error_code ec, std::size_t) { result = ec; });
    ioc_.restart();
    ioc_.run();
    return result;
  }

  asio::io_context ioc_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
};

}  // namespace

TEST_CASE("With one I/O thread, a GET is answered while writes wait on the waiting pool") {
  Gate gate;
  OneThreadServer s(gated(gate), with_pool(4));
  Client pipelined(s.server.port()), single(s.server.port()), reader(s.server.port());
  pipelined.send(http::verb::post, "/a1");
  pipelined.send(http::verb::post, "/a2");  // read only once /a1 is answered
  single.send(http::verb::delete_, "/b");
  REQUIRE(gate.reached_by(2));
  reader.send(http::verb::get, "/healthz");
  HttpResponse got = reader.read();
  CHECK(got.result_int() == 200);
  CHECK(got.body() == "/healthz");

  gate.open();
  HttpResponse first = pipelined.read(), second = pipelined.read(), other = single.read();
  CHECK(first.body() == "/a1");
  CHECK(second.body() == "/a2");
  CHECK(other.body() == "/b");
  CHECK(first.result_int() == 200);
  CHECK(first.keep_alive());
  CHECK(other.result_int() == 200);
}

TEST_CASE("A drain waits for a request on the waiting pool, then answers it Connection: close") {
  Gate gate;
  OneThreadServer s(gated(gate), with_pool(1));
  Client writer(s.server.port());
  writer.send(http::verb::post, "/slow");
  REQUIRE(gate.reached_by(1));
  s.server.stop();
  CHECK(s.server.open_connections() == 1);  // held by its request on the pool
  gate.open();
  HttpResponse answered = writer.read();
  CHECK(answered.body() == "/slow");
  CHECK_FALSE(answered.keep_alive());
  for (int i = 0; i < 1000 && s.server.open_connections() > 0; ++i)
    std::this_thread::sleep_for(10ms);
  CHECK(s.server.open_connections() == 0);
}

TEST_CASE("A server's predicate chooses which requests wait on the pool") {
  Gate gate;
  HttpServerOptions options = with_pool(2);
  options.waits = [](const HttpRequest& r) { return r.target() == "/slow"; };
  OneThreadServer s(
      [&](const HttpRequest& r) {
        if (r.target() == "/slow") gate.wait();
        return json_response(200, std::string(r.target()));
      },
      options);
  Client slow(s.server.port()), fast(s.server.port());
  slow.send(http::verb::get, "/slow");  // a GET, and yet on the pool
  REQUIRE(gate.reached_by(1));
  fast.send(http::verb::post, "/fast");  // a POST, and yet on the I/O thread
  CHECK(fast.read().body() == "/fast");
  gate.open();
  CHECK(slow.read().body() == "/slow");
}

TEST_CASE("A server destroyed with requests on its pool closes their connections unanswered") {
  Gate gate;
  std::atomic<int> posted{0};  // requests the I/O thread handed to the pool
  HttpServerOptions options = with_pool(1);
  options.waits = [&](const HttpRequest&) {
    ++posted;
    return true;
  };
  std::optional<Client> first, queued;
  {
    OneThreadServer s(gated(gate), options);
    first.emplace(s.server.port());
    queued.emplace(s.server.port());
    first->send(http::verb::post, "/first");
    REQUIRE(gate.reached_by(1));
    queued->send(http::verb::post, "/queued");  // behind /first: the pool has one thread
    for (int i = 0; i < 1000 && posted.load() < 2; ++i) std::this_thread::sleep_for(10ms);
    REQUIRE(posted.load() == 2);
    // The I/O stops, as a node's does at its drain's deadline, with both requests unanswered.
    s.ioc.stop();
    s.io_thread.join();
    gate.open();
  }  // the server, its pool (joined) and its io_context (with the sessions) are gone
  CHECK(first->closed_unanswered());
  CHECK(queued->closed_unanswered());
}

}  // namespace contacts
