#pragma once

// Every limit Scrawl enforces lives here, with the name that Error.limit carries and that the
// README lists. Change a number here and nowhere else.

#include <cstdint>

namespace scrawl::limits {

// Largest binary message a client may send, in bytes. Messages above it get a
// LIMIT_EXCEEDED error naming "max_message_bytes" and the connection is closed.
inline constexpr int kMaxMessageBytes = 256 * 1024;
inline constexpr const char *kMaxMessageBytesName = "max_message_bytes";

// Transport ceiling: a frame or message above this is refused by the WebSocket layer itself
// (close code 1009) before it is buffered, so a 100 MB message costs the server nothing.
inline constexpr int kTransportMaxBytes = 4 * kMaxMessageBytes;

// What a client accepts from a server (a snapshot of a large wall is big).
inline constexpr std::int64_t kClientMaxIncomingBytes = 512LL * 1024 * 1024;

inline constexpr int kMaxPointsPerBatch = 1024;
inline constexpr const char *kMaxPointsPerBatchName = "max_points_per_batch";

// A stroke being drawn waits for the acknowledgement of its previous batch before it sends the
// next (core/points.h, StrokePacer): the link sets the pace. Points that have waited this long go
// anyway, so a link that holds acknowledgements back (a long round trip, a stall that is not yet
// seen as one) still shows others the ink a few times a second. Not enforced by the server.
inline constexpr int kStrokeAckWaitCapMs = 250;
inline constexpr const char *kStrokeAckWaitCapMsName = "stroke_ack_wait_cap_ms";

inline constexpr int kMaxPointsPerStroke = 20000;
inline constexpr const char *kMaxPointsPerStrokeName = "max_points_per_stroke";

// Characters (UTF-16 code units after decoding) in a chat message.
inline constexpr int kMaxChatChars = 4000;
inline constexpr const char *kMaxChatCharsName = "max_chat_chars";

inline constexpr int kMaxNoteChars = 4000;
inline constexpr const char *kMaxNoteCharsName = "max_note_chars";
// Free text on the wall (a text shape): its characters and its font size in wall pixels.
inline constexpr int kMaxTextChars = 4000;
inline constexpr const char *kMaxTextCharsName = "max_text_chars";
inline constexpr float kMinFontSize = 6;
inline constexpr float kMaxFontSize = 400;
inline constexpr const char *kFontSizeName = "font_size";
// A note's width and height when set (0 is the default: 200 wide, as tall as its text), in wall
// pixels.
inline constexpr float kMinNoteSide = 60;
inline constexpr float kMaxNoteSide = 2000;
inline constexpr const char *kNoteSideName = "note_side";

inline constexpr int kMaxNameChars = 64;
inline constexpr const char *kMaxNameCharsName = "max_name_chars";

inline constexpr int kMaxWallNameChars = 64;
inline constexpr const char *kMaxWallNameCharsName = "max_wall_name_chars";

// One move or resize (a Transform op) names at most this many objects, and scales by this much.
inline constexpr int kMaxTransformObjects = 20000;
inline constexpr const char *kMaxTransformObjectsName = "max_transform_objects";
inline constexpr float kMinTransformScale = 0.01f;
inline constexpr float kMaxTransformScale = 100.0f;
inline constexpr const char *kTransformScaleName = "transform_scale";
// A selection being dragged is shown moving to others when it holds at most this many objects
// (its keys travel in each cursor message of the drag); a bigger one shows as its box.
inline constexpr int kMaxPreviewObjects = 500;
inline constexpr const char *kMaxPreviewObjectsName = "max_preview_objects";
// An angle (a transform's turn, a shape's or an image's) is in radians, within -pi..pi.
inline constexpr float kMaxRotation = 3.14159274f; // pi, as a float rounds it (up)
inline constexpr const char *kRotationName = "rotation";
// A note turned with a selection turns about its middle, taken from these when it has no size
// of its own (the app draws it at this width, and at least this tall).
inline constexpr float kDefaultNoteWidth = 200;
inline constexpr float kNoteMinHeight = 80;
inline constexpr int kMaxEraseStrokes = 1000;
inline constexpr const char *kMaxEraseStrokesName = "max_erase_strokes";

// Ops per second per client: a token bucket refilled at this rate, holding kOpsBurst tokens so
// that an outbox drained after a reconnect goes through at once.
inline constexpr int kMaxOpsPerSecond = 500;
inline constexpr int kOpsBurst = 5000;
inline constexpr const char *kMaxOpsPerSecondName = "max_ops_per_second";

// An op resent after a reconnect with a client op id already stored is answered with the stored
// op, looked up among this many of the wall's ops before its author's newest (an outbox resends
// what was in flight when the connection dropped, never older).
inline constexpr int kResendLookbackOps = 100000;
inline constexpr const char *kResendLookbackOpsName = "resend_lookback_ops";
// In a cluster the wall's log in Redis keeps this many ops behind its latest snapshot (resends
// and short resumes read them; about 105 bytes of Redis memory each); a resend is looked up
// among them. The timeline reaches back at least this far, and at most about twice as far: the
// log keeps every op after the snapshot history is replayed from (RedisWallLog, scrawl_snapshot).
inline constexpr int kClusterLogKeepOps = 10000;
inline constexpr const char *kClusterLogKeepOpsName = "cluster_log_keep_ops";
// In a cluster each wall's chat is kept in Redis apart from its log (which is trimmed behind
// snapshots): about this many of its newest messages, for joins and scrolling back.
inline constexpr int kClusterChatKeep = 10000;
inline constexpr const char *kClusterChatKeepName = "cluster_chat_keep";
// In a cluster each server tells the others who is on each of its walls this often; a server
// not heard from for three times as long is taken to be gone, and its people with it.
inline constexpr int kClusterPresenceRefreshMs = 5000;
// In a cluster a server that cannot reach Redis for this long closes its members' connections,
// so that their apps reconnect through the load balancer to a server that can (it holds their
// changes meanwhile; the apps send again what was not acknowledged, each applied once). Shorter
// outages (a Redis restart) pass without anybody noticing.
inline constexpr int kClusterRedisGraceMs = 5000;
// In a cluster each server sends the other servers a wall's cursors at most once a frame: the
// newest of each person moving a pointer, together in one message, so that Redis carries one
// message per wall per frame per server, however many pointers move.
inline constexpr int kClusterCursorFrameMs = 16;

inline constexpr int kMaxClientsPerWall = 2000;
inline constexpr const char *kMaxClientsPerWallName = "max_clients_per_wall";

// A wall holds at most this many strokes, notes, images and shapes, and this many points. A full
// wall says so and stays readable, and chat keeps working.
inline constexpr int kMaxWallObjects = 500000;
inline constexpr const char *kMaxWallObjectsName = "max_wall_objects";
inline constexpr std::int64_t kMaxWallPoints = 50000000;
inline constexpr const char *kMaxWallPointsName = "max_wall_points";

// A wall's capacity as one value, so that the server can hand it to its walls. Production uses
// these defaults; tests shrink them through ServerOptions to reach a full wall in a few ops.
// The limit names in errors stay the same.
struct WallCapacity
{
    int maxObjects = kMaxWallObjects;
    std::int64_t maxPoints = kMaxWallPoints;
};

// Coordinates in pixels on the wall, both axes, for stroke points, notes and cursors.
inline constexpr double kMaxCoordinate = 1.0e7;
inline constexpr const char *kMaxCoordinateName = "max_coordinate";

inline constexpr float kMinStrokeWidth = 0.25f;
inline constexpr float kMaxStrokeWidth = 500.0f;
inline constexpr const char *kStrokeWidthName = "stroke_width";

// Undo history kept per author per wall.
inline constexpr int kMaxUndoDepth = 200;

// Chat messages sent with a snapshot on join, and the most one history page returns.
inline constexpr int kRecentChatOnJoin = 50;
inline constexpr int kMaxHistoryPage = 200;
// The most one page of a wall's past ops returns (OpsRequest, for the timeline): this many ops,
// and no more than about this many bytes of them.
inline constexpr int kMaxOpsPage = 10000;
inline constexpr const char *kMaxOpsPageName = "max_ops_page";
inline constexpr int kMaxOpsPageBytes = 1024 * 1024;

// Liveness: the server pings every kPingIntervalMs and drops a peer silent for kPeerTimeoutMs.
inline constexpr int kPingIntervalMs = 10000;
inline constexpr int kPeerTimeoutMs = 30000;
// A connection that has not finished Hello within this time is closed.
inline constexpr int kHelloTimeoutMs = 10000;
// A wall that storage could not reload (WallServer: "unavailable") is tried again this often,
// and on the next use, at most once per kStorageRetryOnUseMs (a reload reads the whole wall).
inline constexpr int kStorageRetryMs = 2000;
inline constexpr int kStorageRetryOnUseMs = 250;
// Ops are committed on their own thread and connection (Storage::appendOpsAsync); a write on
// the event loop's connection (a user, access, a kick, a snapshot part) that finds the commit
// thread holding SQLite's write lock waits for it this long at most, then fails as a storage
// error. It waits for one commit in progress: milliseconds, unless the disk stalls.
inline constexpr int kStorageBusyTimeoutMs = 5000;
// Ops sequenced while a commit is in flight wait in memory for the next one; while the disk
// stalls they would pile up at the rate people send them. Above this many bytes of ops waiting
// to be stored, a new op is refused (STORAGE_UNAVAILABLE, non-fatal; the app sends it again a
// second later): a few seconds of a wall at saturation, a bounded amount of memory.
inline constexpr std::uint64_t kMaxUncommittedBytes = 64 * 1024 * 1024;
inline constexpr const char *kMaxUncommittedBytesName = "max_uncommitted_bytes";
// After the server closes a connection it keeps reading (and dropping) what the peer still
// sends, for at most this long and this many bytes, so that its close frame is not lost to a
// TCP reset (server/wsconnection.cpp, WsConnection::close). Past either, the socket is closed
// as it is.
inline constexpr int kCloseLingerMs = 2000;
inline constexpr std::int64_t kCloseLingerBytes = 16 * 1024 * 1024;

// Slow readers: above kSlowReaderDropEphemeralBytes of unsent data a client stops getting
// cursors; above kSlowReaderDisconnectBytes it is disconnected and resumes later.
inline constexpr std::int64_t kSlowReaderDropEphemeralBytes = 1 * 1024 * 1024;
inline constexpr std::int64_t kSlowReaderDisconnectBytes = 16 * 1024 * 1024;
inline constexpr const char *kSlowReaderName = "max_send_buffer_bytes";

// Backpressure (server/wsconnection.h, WsHub). Output is written at the end of every
// event-loop pass, so what stays queued is what peers' sockets did not take. When most of the
// room falls behind (the peers that read are together more than
// max(kOutputBacklogPauseBytes, kOutputBacklogPerConnectionBytes x connections) behind, each
// counted up to kOutputPeerShareBytes, plus what is sequenced and not yet sent), the server stops
// reading every connection until that is under a quarter: an overload then waits in the senders'
// kernel buffers, not in the server's memory, and nobody who reads is cut. A few slow peers never
// stop the room (their bound is kSlowReaderDisconnectBytes). Output that waited kOutputStallMs
// without the peer taking any of it is that peer's and counts for nothing here. A frame is stored
// once however many connections it waits for.
inline constexpr std::int64_t kOutputBacklogPauseBytes = 8 * 1024 * 1024;
inline constexpr std::int64_t kOutputBacklogPerConnectionBytes = 64 * 1024;
inline constexpr std::int64_t kOutputPeerShareBytes = 256 * 1024;
inline constexpr int kOutputStallMs = 500;

// A WebSocket upgrade request (request line and headers) must fit in this many bytes.
inline constexpr int kMaxUpgradeRequestBytes = 16 * 1024;

// HTTP API request bodies.
inline constexpr int kMaxHttpBodyBytes = 64 * 1024;
inline constexpr const char *kMaxHttpBodyBytesName = "max_http_body_bytes";

// --- Images (server/imagestore.h, HTTP /api/walls/NAME/images) ---

// An uploaded image's bytes. Above it the upload is refused with 413 naming the limit.
inline constexpr std::int64_t kMaxImageBytes = 10 * 1024 * 1024;
inline constexpr const char *kMaxImageBytesName = "max_image_bytes";
// Pixels (width x height) of an image, read from its header before anything is decoded: a small
// file that would decode to gigabytes (a decompression bomb) is refused by this.
inline constexpr std::int64_t kMaxImagePixels = 50LL * 1000 * 1000;
inline constexpr const char *kMaxImagePixelsName = "max_image_pixels";
// Bytes of distinct images one wall holds (an image used twice counts once).
inline constexpr std::int64_t kMaxWallImageBytes = 512LL * 1024 * 1024;
inline constexpr const char *kMaxWallImageBytesName = "max_wall_image_bytes";
// Images placed on one wall (ImageAdd ops, deleted and undone ones included until a clear); they
// count toward max_wall_objects too.
inline constexpr int kMaxWallImages = 1000;
inline constexpr const char *kMaxWallImagesName = "max_wall_images";

// --- Security (README "Security", docs/security.md) ---

// Wall passwords: PBKDF2-HMAC-SHA256 with a random salt per wall. The iteration count is stored
// with each hash, so raising it here strengthens new passwords without breaking old ones.
inline constexpr int kPasswordIterations = 120000;
inline constexpr int kPasswordSaltBytes = 16;
inline constexpr int kPasswordHashBytes = 32;
inline constexpr int kMaxPasswordChars = 128;
inline constexpr const char *kMaxPasswordCharsName = "max_password_chars";

// Wrong passwords from one address within kPasswordFailureWindowMs: at the limit, the address is
// shut out of every wall for kAddressLockoutMs.
inline constexpr int kMaxPasswordFailures = 10;
inline constexpr const char *kMaxPasswordFailuresName = "max_password_failures";
inline constexpr int kPasswordFailureWindowMs = 15 * 60 * 1000;
inline constexpr int kAddressLockoutMs = 10 * 60 * 1000;

// A kicked user may not rejoin the wall for this long.
inline constexpr int kKickBanMs = 10 * 60 * 1000;

// Per remote address (all of one NAT or one reverse proxy share one: see docs/security.md).
// Open connections (WebSocket and HTTP) at once; over it new ones are closed at accept.
inline constexpr int kMaxConnectionsPerAddress = 200;
inline constexpr const char *kMaxConnectionsPerAddressName = "max_connections_per_address";
// New connections a minute (sliding window).
inline constexpr int kMaxConnectsPerAddressPerMinute = 600;
inline constexpr const char *kMaxConnectsPerAddressPerMinuteName = "max_connects_per_address_per_minute";
// Joins a minute (sliding window).
inline constexpr int kMaxJoinsPerAddressPerMinute = 120;
inline constexpr const char *kMaxJoinsPerAddressPerMinuteName = "max_joins_per_address_per_minute";

// New identities (a Hello without a resume token adds a user row) an hour from one address
// (sliding window). Over it the Hello is refused: rows are never deleted, so without a bound one
// address could grow the database forever. The app reconnects with its resume token, so people
// count once, not once per connection. (The row is not made lazily instead: Welcome hands out the
// user id, which keys the person's strokes and notes, so it must be stored from Hello on.)
inline constexpr int kMaxNewUsersPerAddressPerHour = 1000;
inline constexpr const char *kMaxNewUsersPerAddressPerHourName = "max_new_users_per_address_per_hour";
// Walls created (a Join of a name not yet stored creates the wall) an hour from one address.
inline constexpr int kMaxWallsCreatedPerAddressPerHour = 60;
inline constexpr const char *kMaxWallsCreatedPerAddressPerHourName = "max_walls_created_per_address_per_hour";
// Password checks (PBKDF2 on the thread pool, about a second of CPU each) running at once for one
// address; one more is refused at once. Checks are also counted against max_password_failures
// when they start, so queued guesses cannot outrun the lockout.
inline constexpr int kMaxPasswordChecksPerAddress = 2;
inline constexpr const char *kMaxPasswordChecksPerAddressName = "max_password_checks_per_address";

// --- Amplification (one message in, many or big messages out) ---

// Cursor positions relayed per client a second: a token bucket refilled at this rate holding
// kCursorBurst. What a hand needs (the app sends about 30 a second); one cursor in goes out to
// every member of the wall. Over it the newest position is held and relayed when a token comes
// (coalesced: the resting place always arrives). A client sending more than
// kCursorFloodPerSecond in a second gets one LIMIT_EXCEEDED error a second naming the limit, and
// keeps its connection.
inline constexpr int kMaxCursorsPerSecond = 60;
inline constexpr int kCursorBurst = 60;
inline constexpr int kCursorFloodPerSecond = 4 * kMaxCursorsPerSecond;
inline constexpr const char *kMaxCursorsPerSecondName = "max_cursors_per_second";

// Chat history pages per client (a request of a few bytes returns up to kMaxHistoryPage
// messages, megabytes): a token bucket of kHistoryBurst refilled at this rate a minute. Over it
// the request is refused with LIMIT_EXCEEDED naming the limit.
inline constexpr int kMaxHistoryRequestsPerMinute = 60;
inline constexpr int kHistoryBurst = 20;
inline constexpr const char *kMaxHistoryRequestsPerMinuteName = "max_history_requests_per_minute";

// A wall nobody has been on for this long is unloaded from memory (its snapshot stored first if
// due; everything else is stored already). The next join or write loads it again. Memory then
// grows with the walls in use, not with every wall ever touched (tests/server/tst_limits.cpp).
inline constexpr int kWallIdleUnloadMs = 5 * 60 * 1000;

// Owner and HTTP API tokens: random bytes from the system generator.
inline constexpr int kOwnerTokenBytes = 24;
inline constexpr int kApiTokenBytes = 24;

} // namespace scrawl::limits
