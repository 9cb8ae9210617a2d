#include "views/internal/rendered_reads.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tests/temp_dir.h"
#include "views/keys.h"
#include "views/view_store.h"

namespace contacts {
namespace {

// The body kept for `request` in `scope`, or "-".
std::string kept(RenderedReads& reads, ReadScope scope, const std::string& request) {
  uint64_t generation = 0;
  auto found = reads.find(scope, request, generation);
  return found ? found->body : "-";
}

// Renders in `scope`: finds (a miss), then keeps `body` with the generation it read in.
void render(RenderedReads& reads, ReadScope scope, const std::string& request,
            const std::string& body) {
  uint64_t generation = 0;
  REQUIRE(reads.find(scope, request, generation) == nullptr);
  reads.keep(scope, request, {body, "tag-" + body}, generation);
}

TEST_CASE("RenderedReads gives back a kept response and its tag until its scope changes") {
  RenderedReads reads(1 << 20);
  render(reads, {2, 0}, "l1,50,", "list");
  render(reads, {2, 7}, "c", "seven");
  render(reads, {2, 8}, "c", "eight");
  render(reads, {3, 0}, "l1,50,", "other workspace");
  uint64_t generation = 0;
  auto found = reads.find({2, 7}, "c", generation);
  REQUIRE(found != nullptr);
  CHECK(found->tag == "tag-seven");
  CHECK(kept(reads, {2, 7}, "t1,50") == "-");  // another read of the same scope
  reads.changed({{2, 7}, {2, 0}, {2, 7}}, {});
  CHECK(kept(reads, {2, 7}, "c") == "-");
  CHECK(kept(reads, {2, 0}, "l1,50,") == "-");
  CHECK(kept(reads, {2, 8}, "c") == "eight");
  CHECK(kept(reads, {3, 0}, "l1,50,") == "other workspace");
  CHECK(reads.stats().responses == 2);
}

TEST_CASE("RenderedReads drops what a commit changed whether it keeps fewer scopes or more") {
  RenderedReads reads(1 << 20);
  render(reads, {2, 7}, "c", "seven");
  render(reads, {2, 9}, "c", "nine");
  // More scopes changed than kept: the kept ones are looked up among them.
  reads.changed({{2, 1}, {2, 7}, {2, 2}, {2, 3}, {2, 7}}, {});
  CHECK(kept(reads, {2, 7}, "c") == "-");
  CHECK(kept(reads, {2, 9}, "c") == "nine");
  // Fewer changed than kept: each is looked up.
  render(reads, {2, 7}, "c", "seven again");
  reads.changed({{2, 9}}, {});
  CHECK(kept(reads, {2, 9}, "c") == "-");
  CHECK(kept(reads, {2, 7}, "c") == "seven again");
}

TEST_CASE("RenderedReads refuses a response rendered before a commit changed its scope") {
  RenderedReads reads(1 << 20);
  uint64_t generation = 0;
  REQUIRE(reads.find({2, 7}, "c", generation) == nullptr);
  // The reader read the old row; a commit wrote the new one and said so; the reader keeps.
  reads.changed({{2, 7}}, {});
  reads.keep({2, 7}, "c", {"old", ""}, generation);
  CHECK(kept(reads, {2, 7}, "c") == "-");
  render(reads, {2, 7}, "c", "new");
  CHECK(kept(reads, {2, 7}, "c") == "new");
}

TEST_CASE("RenderedReads drops every scope of a workspace that deleted a room") {
  RenderedReads reads(1 << 20);
  render(reads, {2, 0}, "l1,50,", "list");
  render(reads, {2, 7}, "t1,50", "timeline");
  render(reads, {3, 7}, "t1,50", "other workspace");
  reads.changed({}, {2});
  CHECK(kept(reads, {2, 0}, "l1,50,") == "-");
  CHECK(kept(reads, {2, 7}, "t1,50") == "-");
  CHECK(kept(reads, {3, 7}, "t1,50") == "other workspace");
}

TEST_CASE("RenderedReads stays within its budget and keeps nothing with none") {
  RenderedReads reads(4096);
  for (int i = 0; i < 200; ++i) {
    render(reads, {2, i + 1}, "c", std::string(100, 'x'));
    REQUIRE(reads.stats().bytes <= 4096);
  }
  CHECK(reads.stats().responses > 0);
  CHECK(reads.stats().responses < 200);
  RenderedReads none(0);
  render(none, {2, 1}, "c", "one");
  CHECK(kept(none, {2, 1}, "c") == "-");
  CHECK(none.stats().bytes == 0);
}

TEST_CASE("a commit drops the responses of the contacts and lists it writes, and no others") {
  TempDir dir("rendered_reads_test");
  auto opened = ViewStore::open(dir.path() + "/views", ViewStoreOptions{8 << 20, 4 << 20});
  REQUIRE(opened.ok());
  ViewStore& store = **opened;
  RenderedReads& reads = store.rendered_reads();
  auto render_all = [&] {
    for (ReadScope scope :
         {ReadScope{2, 0}, ReadScope{2, 7}, ReadScope{2, 8}, ReadScope{3, 0}, ReadScope{3, 7}})
      if (kept(reads, scope, "r") == "-") render(reads, scope, "r", "body");
  };
  auto still = [&](ReadScope scope) { return kept(reads, scope, "r") != "-"; };
  auto commit = [&](const std::function<void(ViewBatch&)>& write) {
    ViewBatch batch = store.begin_batch();
    write(batch);
    REQUIRE(store.commit(batch).ok());
  };

  render_all();
  commit([](ViewBatch& b) { b.put(keys::contact_key(WorkspaceId(2), 7), "row"); });
  CHECK_FALSE(still({2, 7}));
  CHECK_FALSE(still({2, 0}));
  CHECK(still({2, 8}));
  CHECK(still({3, 0}));
  CHECK(still({3, 7}));

  render_all();  // a new event of contact 8: its timeline, not the list
  commit([](ViewBatch& b) { b.put(keys::timeline_key(WorkspaceId(2), 8, 100, 1), "event"); });
  CHECK_FALSE(still({2, 8}));
  CHECK(still({2, 0}));
  CHECK(still({2, 7}));

  render_all();  // the list order or the count of workspace 3
  commit([](ViewBatch& b) { b.put(keys::list_key(WorkspaceId(3), 100, 9), "row"); });
  CHECK_FALSE(still({3, 0}));
  CHECK(still({3, 7}));
  render_all();
  commit([](ViewBatch& b) { b.put(keys::contact_count_key(WorkspaceId(3)), "1"); });
  CHECK_FALSE(still({3, 0}));

  render_all();  // a deleted contact
  commit([](ViewBatch& b) { b.del(keys::contact_key(WorkspaceId(3), 7)); });
  CHECK_FALSE(still({3, 7}));
  CHECK(still({2, 7}));

  render_all();  // a deleted room: every timeline of the workspace
  commit([](ViewBatch& b) {
    b.put(keys::deleted_resource_key(keys::kRoomDeleted, WorkspaceId(2), 5), "x");
  });
  CHECK_FALSE(still({2, 0}));
  CHECK_FALSE(still({2, 7}));
  CHECK_FALSE(still({2, 8}));
  CHECK(still({3, 7}));

  render_all();  // anything else: nothing
  commit([](ViewBatch& b) { b.put(keys::member_key(WorkspaceId(2), 1), "owner"); });
  for (ReadScope scope : {ReadScope{2, 0}, ReadScope{2, 7}, ReadScope{3, 0}}) CHECK(still(scope));
}

}  // namespace
}  // namespace contacts
