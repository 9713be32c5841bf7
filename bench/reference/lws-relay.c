// Reference relay on libwebsockets (C, Debian's libwebsockets-dev 4.1): the native peer beside
// ws-relay.js and socketio-relay.js. Same behaviour: every binary message a client sends goes to
// every member of its room (?room= in the path, default "bench"), the sender included; text
// messages are ignored. TCP_NODELAY on, no extensions (no compression), messages up to 1 MiB.
// Prints "listening on ws://127.0.0.1:PORT" once ready (--port 0: a free port); exits on SIGTERM.
// Usage: lws-relay --port 0
//
// How it queues, the way libwebsockets wants it: each room keeps one ring of messages, each held
// once (LWS_PRE bytes in front for the frame header) with a count of the members that still have
// to send it; every member has its own cursor into the ring and writes from it only on
// LWS_CALLBACK_SERVER_WRITEABLE, as many messages as the socket takes without lws having to
// buffer a partial one (lws_partial_buffered()). Nothing is copied per member.
//
// Backpressure instead of loss: when a room's ring is nearly full (in messages or bytes), the
// member whose message filled it stops being read (lws_rx_flow_control), so its further messages
// wait in its socket's kernel buffers and, once those are full, in the sender's own buffers.
// Reading resumes for everyone paused when the slowest member has taken half of the backlog. A
// slow member thus slows the room's publishers to its pace; nobody's messages are dropped.
// A member that stopped reading altogether would hold the room forever, so a member that has had
// messages waiting and took none for STALL_SECONDS is closed, and its share of the ring is
// released (bench/reference/stalled-reader.py shows it). The ring never grows: ROOM_SLOTS messages and ROOM_HIGH_BYTES bytes, plus at most one
// message per member that arrived after its reading was paused (see insert()).

#include <libwebsockets.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define MAX_PAYLOAD (1u << 20)
#define ROOM_SLOTS (1u << 14)             // power of two: seq & (ROOM_SLOTS - 1) is the slot
#define ROOM_HIGH_BYTES (16u << 20)       // pause senders above this many queued bytes
#define ROOM_LOW_BYTES (ROOM_HIGH_BYTES / 2)
#define STALL_SECONDS 10
#define WRITES_PER_CALLBACK 64            // then let the other sockets have a turn

struct message {
    unsigned char *buf; // LWS_PRE bytes, then the payload
    size_t len;
    unsigned refs; // members that still have to send it
};

struct member;

struct room {
    struct room *next;
    char name[128];
    struct message ring[ROOM_SLOTS];
    uint64_t head; // seq of the next message to insert
    uint64_t tail; // seq of the oldest message still held
    size_t bytes;  // payload bytes held
    lws_dll2_owner_t members;
    int paused; // over the high-water mark: senders' reading is being paused
};

struct member {
    lws_dll2_t list;
    struct lws *wsi;
    struct room *room;
    uint64_t next;          // seq of the next message to send it
    lws_usec_t progress;    // when it last took a message or had nothing waiting
    int readingPaused;
    unsigned char *partial; // a message arriving in fragments
    size_t partialLen, partialCap;
};

static struct room *rooms;
static volatile sig_atomic_t interrupted;
static struct lws_context *context;
static lws_sorted_usec_list_t stallCheck;
static unsigned long long overflowed; // messages that found the ring full: reported, never silent

static struct room *roomNamed(const char *name)
{
    for (struct room *r = rooms; r; r = r->next) {
        if (!strcmp(r->name, name))
            return r;
    }
    struct room *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    snprintf(r->name, sizeof r->name, "%s", name);
    r->next = rooms;
    rooms = r;
    return r;
}

static void freeRoom(struct room *r)
{
    for (struct room **p = &rooms; *p; p = &(*p)->next) {
        if (*p == r) {
            *p = r->next;
            break;
        }
    }
    for (uint64_t s = r->tail; s < r->head; ++s)
        free(r->ring[s & (ROOM_SLOTS - 1)].buf);
    free(r);
}

static int overHighWater(const struct room *r)
{
    // Room for one more message from every member: each can deliver at most one after its
    // reading is paused.
    return ROOM_SLOTS - (r->head - r->tail) <= r->members.count + 1 || r->bytes >= ROOM_HIGH_BYTES;
}

static int belowLowWater(const struct room *r)
{
    return r->head - r->tail <= ROOM_SLOTS / 2 && r->bytes <= ROOM_LOW_BYTES;
}

static int resumeOne(struct lws_dll2 *d, void *user)
{
    (void)user;
    struct member *m = lws_container_of(d, struct member, list);
    if (m->readingPaused) {
        m->readingPaused = 0;
        // From another connection's callback: apply it now, not when m is next serviced.
        lws_rx_flow_control(m->wsi, LWS_RXFLOW_REASON_APPLIES_ENABLE | LWS_RXFLOW_REASON_USER_BOOL
                                        | LWS_RXFLOW_REASON_FLAG_PROCESS_NOW);
    }
    return 0;
}

// Frees the messages every member has sent, then lets paused senders go on if the backlog fell.
static void release(struct room *r)
{
    while (r->tail < r->head && r->ring[r->tail & (ROOM_SLOTS - 1)].refs == 0) {
        struct message *msg = &r->ring[r->tail & (ROOM_SLOTS - 1)];
        r->bytes -= msg->len;
        free(msg->buf);
        msg->buf = NULL;
        ++r->tail;
    }
    if (r->paused && belowLowWater(r)) {
        r->paused = 0;
        lws_dll2_foreach_safe(&r->members, NULL, resumeOne);
    }
}

static int wakeCaughtUp(struct lws_dll2 *d, void *user)
{
    struct member *m = lws_container_of(d, struct member, list);
    const uint64_t seq = *(const uint64_t *)user;
    if (m->next == seq) { // had nothing waiting: nobody has asked for a writeable callback yet
        m->progress = lws_now_usecs();
        lws_callback_on_writable(m->wsi);
    }
    return 0;
}

// Queues one message from `from` for every member of its room, the sender included.
static void insert(struct member *from, const unsigned char *data, size_t len)
{
    struct room *r = from->room;
    if (r->head - r->tail >= ROOM_SLOTS) {
        // Cannot happen while overHighWater() leaves a slot per member; if it does, say so.
        if (!(overflowed++ % 1000))
            lwsl_err("room %s: ring full, %llu messages not relayed so far\n", r->name, overflowed);
        return;
    }
    struct message *msg = &r->ring[r->head & (ROOM_SLOTS - 1)];
    msg->buf = malloc(LWS_PRE + len);
    if (!msg->buf) {
        ++overflowed;
        lwsl_err("room %s: out of memory, message not relayed\n", r->name);
        return;
    }
    memcpy(msg->buf + LWS_PRE, data, len);
    msg->len = len;
    msg->refs = r->members.count;
    r->bytes += len;
    uint64_t seq = r->head++;
    lws_dll2_foreach_safe(&r->members, &seq, wakeCaughtUp);
    if (overHighWater(r)) {
        r->paused = 1;
        if (!from->readingPaused) {
            from->readingPaused = 1;
            lws_rx_flow_control(from->wsi, LWS_RXFLOW_REASON_APPLIES_DISABLE | LWS_RXFLOW_REASON_USER_BOOL);
        }
    }
}

static int writeSome(struct member *m)
{
    struct room *r = m->room;
    int written = 0;
    // Several frames waiting: cork the socket so that they leave in as few segments as the
    // kernel can make of them, as uWebSockets corks its writes per socket per loop pass; each
    // lws_write() is then a copy into the socket buffer instead of a trip through loopback TCP.
    const int fd = lws_get_socket_fd(m->wsi);
    const int cork = r->head - m->next >= 4;
    if (cork)
        setsockopt(fd, IPPROTO_TCP, TCP_CORK, &cork, sizeof cork);
    while (m->next < r->head && written < WRITES_PER_CALLBACK) {
        struct message *msg = &r->ring[m->next & (ROOM_SLOTS - 1)];
        // Every member writes its frame header into the same LWS_PRE bytes: the server does not
        // mask, so the header is the same for everyone, and this is single-threaded.
        if (lws_write(m->wsi, msg->buf + LWS_PRE, msg->len, LWS_WRITE_BINARY) < (int)msg->len)
            return -1; // lws closes it
        --msg->refs;
        ++m->next;
        ++written;
        if (lws_partial_buffered(m->wsi))
            break; // lws holds the rest of this one: wait for the socket
    }
    if (cork) {
        const int off = 0;
        setsockopt(fd, IPPROTO_TCP, TCP_CORK, &off, sizeof off);
    }
    if (written)
        m->progress = lws_now_usecs();
    release(r);
    if (m->next < r->head)
        lws_callback_on_writable(m->wsi);
    return 0;
}

static void leave(struct member *m)
{
    struct room *r = m->room;
    if (!r)
        return;
    lws_dll2_remove(&m->list);
    for (uint64_t s = m->next; s < r->head; ++s)
        --r->ring[s & (ROOM_SLOTS - 1)].refs;
    m->next = r->head;
    release(r);
    m->room = NULL;
    free(m->partial);
    m->partial = NULL;
    if (!r->members.count)
        freeRoom(r);
}

static int closeIfStalled(struct lws_dll2 *d, void *user)
{
    const lws_usec_t now = *(const lws_usec_t *)user;
    struct member *m = lws_container_of(d, struct member, list);
    if (m->next < m->room->head && now - m->progress > (lws_usec_t)STALL_SECONDS * LWS_USEC_PER_SEC) {
        lwsl_warn("room %s: closing a member that took none of its %llu waiting messages for %d s\n",
                  m->room->name, (unsigned long long)(m->room->head - m->next), STALL_SECONDS);
        m->progress = now; // once is enough; the close comes at lws's next timeout check
        lws_set_timeout(m->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    }
    return 0;
}

static void checkStalls(lws_sorted_usec_list_t *sul)
{
    lws_usec_t now = lws_now_usecs();
    for (struct room *r = rooms; r; r = r->next)
        lws_dll2_foreach_safe(&r->members, &now, closeIfStalled);
    lws_sul_schedule(context, 0, sul, checkStalls, LWS_USEC_PER_SEC);
}

static int onReceive(struct lws *wsi, struct member *m, const void *in, size_t len)
{
    if (m->partialLen + len > MAX_PAYLOAD) {
        lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, (unsigned char *)"over 1 MiB", 10);
        return -1;
    }
    const int final = lws_is_final_fragment(wsi);
    if (final && m->partialLen == 0) { // the whole message in one piece, the usual case
        if (lws_frame_is_binary(wsi))
            insert(m, in, len);
        return 0;
    }
    if (m->partialLen + len > m->partialCap) {
        size_t cap = m->partialCap ? m->partialCap : 4096;
        while (cap < m->partialLen + len)
            cap *= 2;
        unsigned char *grown = realloc(m->partial, cap);
        if (!grown)
            return -1;
        m->partial = grown;
        m->partialCap = cap;
    }
    memcpy(m->partial + m->partialLen, in, len);
    m->partialLen += len;
    if (final) {
        if (lws_frame_is_binary(wsi))
            insert(m, m->partial, m->partialLen);
        m->partialLen = 0;
    }
    return 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    struct member *m = user;
    switch (reason) {
    case LWS_CALLBACK_ESTABLISHED: {
        const int one = 1;
        setsockopt(lws_get_socket_fd(wsi), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        char arg[160];
        const char *name = lws_get_urlarg_by_name(wsi, "room=", arg, (int)sizeof arg);
        struct room *r = roomNamed(name && *name ? name : "bench");
        if (!r)
            return -1;
        memset(m, 0, sizeof *m);
        m->wsi = wsi;
        m->room = r;
        m->next = r->head; // a member gets what is sent after it joined
        m->progress = lws_now_usecs();
        lws_dll2_add_tail(&m->list, &r->members);
        return 0;
    }
    case LWS_CALLBACK_RECEIVE:
        return m->room ? onReceive(wsi, m, in, len) : -1;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return m->room ? writeSome(m) : 0;
    case LWS_CALLBACK_CLOSED:
        leave(m);
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

static const struct lws_protocols protocols[] = {
    // The first protocol is the one a client that names none gets.
    {"relay", callback, sizeof(struct member), 65536, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0}, // the end of the list
};

static void onSignal(int sig)
{
    (void)sig;
    interrupted = 1;
}

int main(int argc, char **argv)
{
    int port = 0;
    for (int i = 1; i + 1 < argc; ++i) {
        if (!strcmp(argv[i], "--port"))
            port = atoi(argv[i + 1]);
    }
    signal(SIGTERM, onSignal);
    signal(SIGINT, onSignal);
    signal(SIGPIPE, SIG_IGN);
    lws_set_log_level(LLL_ERR | LLL_WARN, NULL);

    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    context = lws_create_context(&info);
    if (!context) {
        fprintf(stderr, "lws-relay: cannot create the libwebsockets context\n");
        return 1;
    }
    info.port = port;
    info.iface = "127.0.0.1";
    info.protocols = protocols;
    struct lws_vhost *vhost = lws_create_vhost(context, &info);
    if (!vhost) {
        fprintf(stderr, "lws-relay: cannot listen on 127.0.0.1:%d\n", port);
        lws_context_destroy(context);
        return 1;
    }
    printf("listening on ws://127.0.0.1:%d\n", lws_get_vhost_listen_port(vhost));
    fflush(stdout);
    lws_sul_schedule(context, 0, &stallCheck, checkStalls, LWS_USEC_PER_SEC);

    while (!interrupted && lws_service(context, 0) >= 0) {
    }
    lws_sul_cancel(&stallCheck);
    lws_context_destroy(context);
    if (overflowed)
        fprintf(stderr, "lws-relay: %llu messages were not relayed (ring full)\n", overflowed);
    return 0;
}
