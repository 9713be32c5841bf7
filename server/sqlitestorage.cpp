#include "server/storage.h"

#include "core/limits.h"
#include "server/security.h"

#include <QDateTime>
#include <QDir>
#include <QLoggingCategory>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QUuid>
#include <QVariant>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include <sched.h>

Q_LOGGING_CATEGORY(lcStorage, "scrawl.server.storage", QtInfoMsg)

namespace scrawl {

namespace {

QByteArray opBytes(const pb::Op &op)
{
    QByteArray bytes;
    bytes.resize(qsizetype(op.ByteSizeLong()));
    op.SerializeToArray(bytes.data(), int(bytes.size()));
    return bytes;
}

// Durability: WAL with synchronous=NORMAL writes every committed transaction to the WAL file
// before COMMIT returns, so an acknowledged op survives kill -9 of the server. (A power cut may
// lose the last transactions; synchronous=FULL would cost an fsync per group commit.)
const char *const kSchema[] = {
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA wal_autocheckpoint=0", // see Checkpointer
    "PRAGMA foreign_keys=ON",
    "CREATE TABLE IF NOT EXISTS walls (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, "
    "created_ms INTEGER NOT NULL, head_seq INTEGER NOT NULL DEFAULT 0)",
    "CREATE TABLE IF NOT EXISTS ops (wall_id INTEGER NOT NULL, seq INTEGER NOT NULL, "
    "author INTEGER NOT NULL, client_op_id INTEGER NOT NULL, kind INTEGER NOT NULL, "
    "body BLOB NOT NULL, PRIMARY KEY (wall_id, seq)) WITHOUT ROWID",
    // Exactly-once bookkeeping: each author's newest client op id and its seq. (An index of
    // every op by author and client op id cost a B-tree page per author in every group commit:
    // 40 KB of WAL a commit with 50 people drawing, and 5-20 ms stalls on a real disk.)
    "CREATE TABLE IF NOT EXISTS client_heads (wall_id INTEGER NOT NULL, author INTEGER NOT NULL, "
    "client_op_id INTEGER NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (wall_id, author)) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS ops_kind ON ops (wall_id, kind, seq)",
    // Snapshots before they were stored in parts; read while no snapshot_heads row replaces them.
    "CREATE TABLE IF NOT EXISTS snapshots (wall_id INTEGER PRIMARY KEY, seq INTEGER NOT NULL, "
    "body BLOB NOT NULL)",
    // Storage::saveSnapshotPart: two slots per wall, the one in use named by snapshot_heads.
    "CREATE TABLE IF NOT EXISTS snapshot_heads (wall_id INTEGER PRIMARY KEY, seq INTEGER NOT NULL, "
    "slot INTEGER NOT NULL, parts INTEGER NOT NULL, bytes INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS snapshot_parts (wall_id INTEGER NOT NULL, slot INTEGER NOT NULL, "
    "part INTEGER NOT NULL, body BLOB NOT NULL, UNIQUE (wall_id, slot, part))",
    "CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY AUTOINCREMENT, token BLOB NOT NULL "
    "UNIQUE, created_ms INTEGER NOT NULL)",
    // Security (server/security.h): separate tables so that older databases gain them as is.
    "CREATE TABLE IF NOT EXISTS wall_access (wall_id INTEGER PRIMARY KEY, owner_user INTEGER NOT "
    "NULL, owner_token_hash BLOB, password_hash BLOB, password_salt BLOB, password_iterations "
    "INTEGER NOT NULL DEFAULT 0, api_token BLOB NOT NULL, locked INTEGER NOT NULL DEFAULT 0)",
    "CREATE TABLE IF NOT EXISTS wall_roles (wall_id INTEGER NOT NULL, user_id INTEGER NOT NULL, "
    "role INTEGER NOT NULL, PRIMARY KEY (wall_id, user_id)) WITHOUT ROWID",
    // A kick holds the user and the address they were on out of the wall until until_ms, across
    // restarts (address '' when they were not online).
    "CREATE TABLE IF NOT EXISTS wall_kicks (wall_id INTEGER NOT NULL, user_id INTEGER NOT NULL, "
    "address TEXT NOT NULL, until_ms INTEGER NOT NULL, PRIMARY KEY (wall_id, user_id, address)) "
    "WITHOUT ROWID",
    // One-time upgrades done on this file (SqliteStorage::migrateClearTokens).
    "CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY)",
};

// SQLite's automatic checkpoint runs inside the COMMIT that crosses its threshold, and with it
// an fsync of the WAL and the database: a stall of milliseconds to tens of milliseconds on the
// event loop every thousand pages, which every client would feel as a latency spike. The writer
// turns it off and this thread checkpoints instead, on its own connection, a moment after writes
// (PASSIVE: it never blocks the writer).
//
// Under sustained writes a PASSIVE checkpoint never catches up with the writer, and SQLite only
// starts the WAL over from its beginning once every frame is copied back, so the WAL grew
// without end (300-500 MiB in a 45 s fan-out run). When it passes kWalResetFrames the writer is
// asked to checkpoint once itself, right after a commit, when only the frames written since
// this thread's last pass are left to copy; its next transaction starts the WAL over. The file
// keeps its size (no journal_size_limit): truncating and growing it again cost ext4 stalls.
class Checkpointer
{
public:
    explicit Checkpointer(QString path) : m_path(std::move(path)), m_thread([this] { run(); }) {}
    ~Checkpointer()
    {
        {
            std::lock_guard lock(m_mutex);
            m_stop = true;
        }
        m_wake.notify_one();
        m_thread.join();
    }

    // True once, after the WAL grew past kWalResetFrames: the writer should checkpoint now.
    bool writerShouldCheckpoint() { return m_writerShouldCheckpoint.exchange(false); }

    void wroteFrames()
    {
        {
            std::lock_guard lock(m_mutex);
            m_dirty = true;
        }
        m_wake.notify_one();
    }

private:
    // How long after a write the checkpoint runs: writes that come in a burst share one.
    static constexpr auto kDelay = std::chrono::milliseconds(250);
    // 4 KiB pages: 64 MiB of WAL.
    static constexpr int kWalResetFrames = 16384;

    void run()
    {
        // Idle priority: a checkpoint is housekeeping and must never take the CPU from the event
        // loop (on a server given one core, it shared that core at normal priority and each pass
        // held every client up for 7-9 ms, 20-25 ms with the fsyncs of a real disk).
        sched_param idle{};
        if (sched_setscheduler(0, SCHED_IDLE, &idle) != 0)
            qCInfo(lcStorage) << "checkpoints run at normal priority:" << std::strerror(errno);
        const QString name = QStringLiteral("checkpointer-%1").arg(QUuid::createUuid().toString(QUuid::Id128));
        {
            QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), name);
            db.setDatabaseName(m_path);
            const bool open = db.open();
            if (!open)
                qCWarning(lcStorage) << "checkpoints disabled: cannot open" << m_path << db.lastError().text();
            std::unique_lock lock(m_mutex);
            while (!m_stop) {
                m_wake.wait(lock, [this] { return m_stop || m_dirty; });
                if (m_stop)
                    break;
                m_wake.wait_for(lock, kDelay, [this] { return m_stop; });
                m_dirty = false;
                lock.unlock();
                if (open) {
                    QSqlQuery q(db);
                    // One row: busy, frames in the WAL, frames copied back (of those).
                    if (!q.exec(QStringLiteral("PRAGMA wal_checkpoint(PASSIVE)")))
                        qCWarning(lcStorage) << "checkpoint failed:" << q.lastError().text();
                    // Only once this pass copied back every frame it saw: the writer is then left
                    // with what came during the pass, not a backlog that would stall it.
                    else if (q.next() && q.value(1).toInt() >= kWalResetFrames
                             && q.value(2).toInt() == q.value(1).toInt())
                        m_writerShouldCheckpoint = true;
                }
                lock.lock();
            }
            db.close();
        }
        QSqlDatabase::removeDatabase(name);
    }

    const QString m_path;
    std::mutex m_mutex;
    std::condition_variable m_wake;
    bool m_dirty = false;
    bool m_stop = false;
    std::atomic<bool> m_writerShouldCheckpoint{false};
    std::thread m_thread; // last: started once everything above exists
};


// The statements that write a batch of ops, prepared on one connection.
class OpWriter
{
public:
    bool prepare(const QSqlDatabase &db)
    {
        m_db = db;
        m_insertOp = QSqlQuery(m_db);
        m_updateHead = QSqlQuery(m_db);
        m_updateClientHead = QSqlQuery(m_db);
        return m_insertOp.prepare(QStringLiteral(
                   "INSERT INTO ops (wall_id, seq, author, client_op_id, kind, body) VALUES (?,?,?,?,?,?)"))
            && m_updateHead.prepare(QStringLiteral("UPDATE walls SET head_seq = ? WHERE id = ?"))
            && m_updateClientHead.prepare(QStringLiteral(
                   "INSERT OR REPLACE INTO client_heads (wall_id, author, client_op_id, seq) VALUES (?,?,?,?)"));
    }
    void clear()
    {
        m_insertOp = QSqlQuery();
        m_updateHead = QSqlQuery();
        m_updateClientHead = QSqlQuery();
        m_db = QSqlDatabase();
    }

    // One transaction, all or nothing.
    bool write(const std::vector<PendingOp> &ops, QString *error)
    {
        if (ops.empty())
            return true;
        if (!m_db.transaction()) {
            *error = m_db.lastError().text();
            return false;
        }
        auto failed = [&](const QSqlQuery &q) {
            *error = q.lastError().text();
            m_db.rollback();
            return false;
        };
        std::vector<std::pair<std::int64_t, std::uint64_t>> heads;
        // (wall, author) -> index in `ops` of the author's newest op in this batch
        std::map<std::pair<std::int64_t, std::uint64_t>, size_t> clientHeads;
        for (const PendingOp &p : ops) {
            if (p.op->client_op_id())
                clientHeads[{p.wallId, p.op->author()}] = size_t(&p - ops.data());
            m_insertOp.bindValue(0, qint64(p.wallId));
            m_insertOp.bindValue(1, qulonglong(p.op->seq()));
            m_insertOp.bindValue(2, qulonglong(p.op->author()));
            m_insertOp.bindValue(3, qulonglong(p.op->client_op_id()));
            m_insertOp.bindValue(4, int(p.op->body_case()));
            m_insertOp.bindValue(5, opBytes(*p.op));
            if (!m_insertOp.exec())
                return failed(m_insertOp);
            if (heads.empty() || heads.back().first != p.wallId)
                heads.emplace_back(p.wallId, p.op->seq());
            else
                heads.back().second = p.op->seq();
        }
        for (const auto &[wallId, seq] : heads) {
            m_updateHead.bindValue(0, qulonglong(seq));
            m_updateHead.bindValue(1, qint64(wallId));
            if (!m_updateHead.exec())
                return failed(m_updateHead);
        }
        for (const auto &[key, index] : clientHeads) {
            const pb::Op &op = *ops[index].op;
            m_updateClientHead.bindValue(0, qint64(key.first));
            m_updateClientHead.bindValue(1, qulonglong(key.second));
            m_updateClientHead.bindValue(2, qulonglong(op.client_op_id()));
            m_updateClientHead.bindValue(3, qulonglong(op.seq()));
            if (!m_updateClientHead.exec())
                return failed(m_updateClientHead);
        }
        if (!m_db.commit()) {
            *error = m_db.lastError().text();
            m_db.rollback();
            return false;
        }
        return true;
    }

private:
    QSqlDatabase m_db;
    QSqlQuery m_insertOp;
    QSqlQuery m_updateHead;
    QSqlQuery m_updateClientHead;
};

// A wall's snapshot writes, on whichever connection runs them: the commit thread's as the
// server goes (Storage::saveSnapshotPartsAsync), the event loop's for a whole snapshot at once.
// Each sets *error when it fails.

// The slot a new snapshot goes to: the one not in use (-1: storage failed).
int spareSnapshotSlot(QSqlDatabase &db, std::int64_t wallId, QString *error)
{
    QSqlQuery q(db);
    q.prepare(QStringLiteral("SELECT slot FROM snapshot_heads WHERE wall_id = ?"));
    q.addBindValue(qint64(wallId));
    if (!q.exec()) {
        *error = q.lastError().text();
        return -1;
    }
    return q.next() ? 1 - q.value(0).toInt() : 0;
}

bool writeSnapshotPart(QSqlDatabase &db, std::int64_t wallId, int slot, int part, QByteArrayView bytes,
                       QString *error)
{
    QSqlQuery q(db);
    q.prepare(QStringLiteral("INSERT OR REPLACE INTO snapshot_parts (wall_id, slot, part, body) "
                             "VALUES (?,?,?,?)"));
    q.addBindValue(qint64(wallId));
    q.addBindValue(slot);
    q.addBindValue(part);
    // Bound without a copy: the statement runs before `bytes` can go.
    q.addBindValue(QByteArray::fromRawData(bytes.data(), bytes.size()));
    if (q.exec())
        return true;
    *error = q.lastError().text();
    return false;
}

// Makes parts 0..parts-1 of `slot` the wall's snapshot at `seq`, in one transaction.
bool writeSnapshotHead(QSqlDatabase &db, std::int64_t wallId, std::uint64_t seq, int slot, int parts,
                       qsizetype bytes, QString *error)
{
    if (!db.transaction()) {
        *error = db.lastError().text();
        return false;
    }
    QSqlQuery head(db);
    head.prepare(QStringLiteral("INSERT OR REPLACE INTO snapshot_heads (wall_id, seq, slot, parts, "
                                "bytes) VALUES (?,?,?,?,?)"));
    head.addBindValue(qint64(wallId));
    head.addBindValue(qulonglong(seq));
    head.addBindValue(slot);
    head.addBindValue(parts);
    head.addBindValue(qint64(bytes));
    // Parts past the end are left from a bigger snapshot in this slot; the old single-row form
    // is replaced for good.
    QSqlQuery extra(db);
    extra.prepare(QStringLiteral("DELETE FROM snapshot_parts WHERE wall_id = ? AND slot = ? AND part >= ?"));
    extra.addBindValue(qint64(wallId));
    extra.addBindValue(slot);
    extra.addBindValue(parts);
    QSqlQuery legacy(db);
    legacy.prepare(QStringLiteral("DELETE FROM snapshots WHERE wall_id = ?"));
    legacy.addBindValue(qint64(wallId));
    for (QSqlQuery *q : {&head, &extra, &legacy}) {
        if (!q->exec()) {
            *error = q->lastError().text();
            db.rollback();
            return false;
        }
    }
    if (db.commit())
        return true;
    *error = db.lastError().text();
    db.rollback();
    return false;
}

// The thread that writes the op log (Storage::appendOpsAsync), on its own connection, batches
// first in, first out. The event loop hands it a batch and goes on sequencing the next one; a
// COMMIT that stalls in write() (dirty-page writeback) or a checkpoint it runs holds up only
// this thread. Both connections wait for the other's write lock (QSQLITE's busy timeout, 5 s):
// the event loop's own writes (users, access, kicks, snapshot parts, all short) wait at most
// for the commit in progress.
class Committer
{
public:
    Committer(QString path, Checkpointer *checkpointer)
        : m_path(std::move(path))
        , m_checkpointer(checkpointer)
        , m_thread([this] { run(); })
    {
        std::unique_lock lock(m_mutex);
        m_wake.wait(lock, [this] { return m_started; });
    }
    ~Committer()
    {
        {
            std::lock_guard lock(m_mutex);
            m_stop = true;
            m_gate = -1; // what is queued is committed before the thread ends
        }
        m_wake.notify_all();
        m_thread.join();
    }

    // Empty once the connection is open and ready.
    QString openError() const { return m_openError; }

    void enqueue(std::vector<PendingOp> ops, Storage::CommitDone done)
    {
        {
            std::lock_guard lock(m_mutex);
            m_jobs.push_back({std::move(ops), std::move(done), {}, nullptr, {}});
        }
        m_wake.notify_all();
    }

    // Other writes, in turn with the batches (and held at the gate like them, without counting
    // as one): `step` runs once a turn on this thread's connection and says whether it has more
    // to do, for which it goes to the back of the queue.
    void enqueueStep(std::function<bool(QSqlDatabase &)> step)
    {
        {
            std::lock_guard lock(m_mutex);
            m_jobs.push_back({{}, {}, {}, nullptr, std::move(step)});
        }
        m_wake.notify_all();
    }

    bool exec(const QString &sql, QString *error)
    {
        bool ok = false;
        bool finished = false;
        {
            std::lock_guard lock(m_mutex);
            m_jobs.push_back({{}, [&](bool result, const QString &e) {
                                  ok = result;
                                  if (error)
                                      *error = e;
                              }, sql, &finished, {}});
        }
        m_wake.notify_all();
        std::unique_lock lock(m_mutex);
        m_wake.wait(lock, [&] { return finished; });
        return ok;
    }

    void waitIdle()
    {
        std::unique_lock lock(m_mutex);
        m_wake.wait(lock, [this] { return m_jobs.empty() && !m_busy; });
    }

    void setGate(int commits)
    {
        {
            std::lock_guard lock(m_mutex);
            m_gate = commits;
        }
        m_wake.notify_all();
    }

    int queued()
    {
        std::lock_guard lock(m_mutex);
        int n = m_busyBatch ? 1 : 0;
        for (const Job &job : m_jobs)
            n += job.isBatch() ? 1 : 0;
        return n;
    }

private:
    struct Job
    {
        std::vector<PendingOp> ops;
        Storage::CommitDone done;
        QString sql; // not empty: a statement to run (exec), not a batch
        bool *finished = nullptr;
        std::function<bool(QSqlDatabase &)> step; // set: a step (enqueueStep), not a batch
        bool isBatch() const { return sql.isEmpty() && !step; }
    };

    void run()
    {
        const QString name = QStringLiteral("committer-%1").arg(QUuid::createUuid().toString(QUuid::Id128));
        {
            QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), name);
            db.setDatabaseName(m_path);
            OpWriter writer;
            if (!db.open()) {
                m_openError = db.lastError().text();
            } else {
                // Connection settings, as on the event loop's connection (kSchema).
                const QString pragmas[] = {
                    QStringLiteral("PRAGMA busy_timeout = %1").arg(limits::kStorageBusyTimeoutMs),
                    QStringLiteral("PRAGMA synchronous=NORMAL"), QStringLiteral("PRAGMA wal_autocheckpoint=0"),
                    QStringLiteral("PRAGMA foreign_keys=ON")};
                for (const QString &pragma : pragmas) {
                    QSqlQuery q(db);
                    if (!q.exec(pragma) && m_openError.isEmpty())
                        m_openError = q.lastError().text();
                }
                if (m_openError.isEmpty() && !writer.prepare(db))
                    m_openError = db.lastError().text();
            }
            {
                std::lock_guard lock(m_mutex);
                m_started = true;
            }
            m_wake.notify_all();
            if (m_openError.isEmpty())
                loop(db, writer);
            writer.clear();
            db.close();
        }
        QSqlDatabase::removeDatabase(name);
    }

    void loop(QSqlDatabase &db, OpWriter &writer)
    {
        // The newest generation refused per wall: ops of it or older are refused unwritten.
        std::map<std::int64_t, std::uint64_t> poisoned;
        std::unique_lock lock(m_mutex);
        for (;;) {
            m_wake.wait(lock, [this] {
                return (m_stop && m_jobs.empty())
                    || (!m_jobs.empty() && (m_gate != 0 || !m_jobs.front().sql.isEmpty()));
            });
            if (m_jobs.empty())
                return;
            Job job = std::move(m_jobs.front());
            m_jobs.pop_front();
            m_busy = true;
            m_busyBatch = job.isBatch();
            if (m_busyBatch && m_gate > 0)
                --m_gate;
            lock.unlock();
            bool again = false;
            if (!job.sql.isEmpty()) {
                QSqlQuery q(db);
                const bool ok = q.exec(job.sql);
                job.done(ok, q.lastError().text());
            } else if (job.step) {
                again = job.step(db);
                wroteFrames(db);
            } else {
                bool refuse = false;
                for (const PendingOp &p : job.ops) {
                    const auto it = poisoned.find(p.wallId);
                    if (it != poisoned.end() && p.epoch <= it->second) {
                        refuse = true;
                        break;
                    }
                }
                QString error;
                bool ok = false;
                if (refuse) {
                    error = QStringLiteral("an earlier commit of the same wall failed");
                } else {
                    ok = writer.write(job.ops, &error);
                    if (!ok)
                        qCWarning(lcStorage) << "database error:" << error;
                }
                if (!ok) {
                    for (const PendingOp &p : job.ops) {
                        std::uint64_t &epoch = poisoned[p.wallId];
                        epoch = std::max(epoch, p.epoch);
                    }
                }
                // The batch is broadcast as soon as its COMMIT returned; a checkpoint it calls
                // for (with its fsyncs) delays only the next commit. (The ops may be gone once
                // `done` ran.)
                job.done(ok, error);
                if (ok)
                    wroteFrames(db);
            }
            lock.lock();
            m_busy = m_busyBatch = false;
            if (job.finished)
                *job.finished = true;
            if (again)
                m_jobs.push_back(std::move(job));
            m_wake.notify_all();
        }
    }

    void wroteFrames(QSqlDatabase &db)
    {
        if (m_checkpointer->writerShouldCheckpoint()) {
            QSqlQuery q(db);
            if (!q.exec(QStringLiteral("PRAGMA wal_checkpoint(PASSIVE)")))
                qCWarning(lcStorage) << "checkpoint failed:" << q.lastError().text();
        }
        m_checkpointer->wroteFrames();
    }

    const QString m_path;
    Checkpointer *const m_checkpointer;
    QString m_openError; // written before m_started, read after
    std::mutex m_mutex;
    std::condition_variable m_wake;
    std::deque<Job> m_jobs;
    bool m_started = false;
    bool m_busy = false;
    bool m_busyBatch = false; // what is busy is an op batch
    bool m_stop = false;
    int m_gate = -1;
    std::thread m_thread; // last: started once everything above exists
};

class SqliteStorage final : public Storage
{
public:
    explicit SqliteStorage(QString dataDir)
        : m_dataDir(std::move(dataDir))
        , m_connection(QStringLiteral("scrawl-%1").arg(QUuid::createUuid().toString(QUuid::Id128)))
    {
    }
    ~SqliteStorage() override { close(); }

    bool open(QString *error) override
    {
        if (!QDir().mkpath(m_dataDir)) {
            *error = QStringLiteral("Cannot create the data directory %1; check its permissions "
                                    "or pass another with --data.")
                         .arg(m_dataDir);
            return false;
        }
        m_db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), m_connection);
        m_db.setDatabaseName(QDir(m_dataDir).filePath(QStringLiteral("scrawl.sqlite")));
        if (!m_db.open()) {
            *error = QStringLiteral("Cannot open the database in %1: %2")
                         .arg(m_dataDir, m_db.lastError().text());
            return false;
        }
        {
            QSqlQuery q(m_db);
            if (!q.exec(QStringLiteral("PRAGMA busy_timeout = %1").arg(limits::kStorageBusyTimeoutMs))) {
                *error = QStringLiteral("Cannot prepare the database in %1 (%2).")
                             .arg(m_dataDir, q.lastError().text());
                return false;
            }
        }
        for (const char *statement : kSchema) {
            QSqlQuery q(m_db);
            if (!q.exec(QString::fromLatin1(statement))) {
                *error = QStringLiteral("Cannot prepare the database in %1 (%2); is it writable?")
                             .arg(m_dataDir, q.lastError().text());
                return false;
            }
        }
        if (!migrateClientIndex() || !migrateClearTokens() || !migrateProtectedWork()) {
            *error = QStringLiteral("Cannot upgrade the database in %1 (%2); is it writable?")
                         .arg(m_dataDir, m_lastError);
            return false;
        }
        m_checkpointer = std::make_unique<Checkpointer>(m_db.databaseName());
        m_committer = std::make_unique<Committer>(m_db.databaseName(), m_checkpointer.get());
        if (!m_committer->openError().isEmpty()) {
            *error = QStringLiteral("Cannot open the database in %1 for writing ops: %2")
                         .arg(m_dataDir, m_committer->openError());
            m_committer.reset();
            return false;
        }
        qCInfo(lcStorage) << "opened" << m_db.databaseName();
        return true;
    }

    void close() override
    {
        if (!m_db.isValid())
            return;
        // What is queued is committed first (and its `done` run), then the thread ends.
        m_committer.reset();
        m_checkpointer.reset();
        m_db.close();
        m_db = QSqlDatabase();
        QSqlDatabase::removeDatabase(m_connection);
    }

    QString lastError() const override { return m_lastError; }

    std::optional<StoredWall> findWall(const QString &name) override
    {
        QSqlQuery q(m_db);
        q.prepare(QStringLiteral("SELECT id, head_seq FROM walls WHERE name = ?"));
        q.addBindValue(name);
        if (!exec(q) || !q.next())
            return std::nullopt;
        return StoredWall{q.value(0).toLongLong(), name, q.value(1).toULongLong()};
    }

    std::optional<StoredWall> createWall(const QString &name) override
    {
        QSqlQuery q(m_db);
        q.prepare(QStringLiteral("INSERT INTO walls (name, created_ms) VALUES (?, ?)"));
        q.addBindValue(name);
        q.addBindValue(QDateTime::currentMSecsSinceEpoch());
        if (!exec(q))
            return std::nullopt;
        return StoredWall{q.lastInsertId().toLongLong(), name, 0};
    }

    std::vector<WallSummary> walls() override
    {
        std::vector<WallSummary> out;
        QSqlQuery q(m_db);
        if (!exec(q, QStringLiteral("SELECT name, head_seq FROM walls ORDER BY name")))
            return out;
        while (q.next())
            out.push_back({q.value(0).toString(), q.value(1).toULongLong()});
        return out;
    }

    void appendOpsAsync(std::vector<PendingOp> ops, CommitDone done) override
    {
        m_committer->enqueue(std::move(ops), std::move(done));
    }

    void waitForCommits() override
    {
        if (m_committer)
            m_committer->waitIdle();
    }

    void setCommitGate(int commits) override { m_committer->setGate(commits); }
    int commitsQueued() override { return m_committer->queued(); }
    bool execOnCommitConnection(const QString &sql, QString *error) override
    {
        return m_committer->exec(sql, error);
    }

    // After a write on this connection (snapshot parts). The writer's own checkpoint
    // (Checkpointer::writerShouldCheckpoint) is the commit thread's to run.
    void wroteFrames() { m_checkpointer->wroteFrames(); }

    bool saveSnapshotPart(std::int64_t wallId, int part, QByteArrayView bytes) override
    {
        QString error;
        const int slot = spareSnapshotSlot(m_db, wallId, &error);
        if (slot < 0 || !writeSnapshotPart(m_db, wallId, slot, part, bytes, &error)) {
            fail(error);
            return false;
        }
        wroteFrames();
        return true;
    }

    bool commitSnapshot(std::int64_t wallId, std::uint64_t seq, int parts, qsizetype bytes) override
    {
        QString error;
        const int slot = spareSnapshotSlot(m_db, wallId, &error);
        if (slot < 0 || !writeSnapshotHead(m_db, wallId, seq, slot, parts, bytes, &error)) {
            fail(error);
            return false;
        }
        wroteFrames();
        return true;
    }

    void saveSnapshotPartsAsync(std::int64_t wallId, QByteArray bytes, std::shared_ptr<std::atomic<bool>> cancel,
                                CommitDone done) override
    {
        const int parts = snapshotParts(bytes.size());
        auto next = std::make_shared<int>(0);
        auto slot = std::make_shared<int>(-1);
        m_committer->enqueueStep([wallId, bytes, cancel, done, parts, next, slot](QSqlDatabase &db) {
            if (cancel && *cancel)
                return false;
            QString error;
            if (*slot < 0 && (*slot = spareSnapshotSlot(db, wallId, &error)) < 0) {
                done(false, error);
                return false;
            }
            if (*next < parts && !writeSnapshotPart(db, wallId, *slot, *next, snapshotPart(bytes, *next), &error)) {
                qCWarning(lcStorage) << "database error:" << error;
                done(false, error);
                return false;
            }
            if (++*next < parts)
                return true;
            done(true, {});
            return false;
        });
    }

    void commitSnapshotAsync(std::int64_t wallId, std::uint64_t seq, int parts, qsizetype bytes,
                             CommitDone done) override
    {
        m_committer->enqueueStep([wallId, seq, parts, bytes, done](QSqlDatabase &db) {
            QString error;
            const int slot = spareSnapshotSlot(db, wallId, &error);
            const bool ok = slot >= 0 && writeSnapshotHead(db, wallId, seq, slot, parts, bytes, &error);
            if (!ok)
                qCWarning(lcStorage) << "database error:" << error;
            done(ok, error);
            return false;
        });
    }

    std::optional<QByteArray> latestSnapshot(std::int64_t wallId) override
    {
        QSqlQuery head(m_db);
        head.prepare(QStringLiteral("SELECT slot, parts, bytes FROM snapshot_heads WHERE wall_id = ?"));
        head.addBindValue(qint64(wallId));
        if (!exec(head))
            return std::nullopt;
        if (!head.next()) {
            QSqlQuery q(m_db);
            q.prepare(QStringLiteral("SELECT body FROM snapshots WHERE wall_id = ?"));
            q.addBindValue(qint64(wallId));
            if (!exec(q) || !q.next())
                return std::nullopt;
            return q.value(0).toByteArray();
        }
        const int slot = head.value(0).toInt();
        const int parts = head.value(1).toInt();
        const qsizetype total = head.value(2).toLongLong();
        QSqlQuery q(m_db);
        q.setForwardOnly(true);
        q.prepare(QStringLiteral("SELECT part, body FROM snapshot_parts WHERE wall_id = ? AND slot = ? "
                                 "AND part < ? ORDER BY part"));
        q.addBindValue(qint64(wallId));
        q.addBindValue(slot);
        q.addBindValue(parts);
        if (!exec(q))
            return std::nullopt;
        QByteArray bytes;
        bytes.reserve(total);
        int part = 0;
        while (q.next() && q.value(0).toInt() == part) {
            bytes.append(q.value(1).toByteArray());
            ++part;
        }
        if (part != parts || bytes.size() != total) {
            // Then the wall is rebuilt from its ops alone.
            qCWarning(lcStorage) << "the snapshot of wall" << wallId << "is incomplete:" << part
                                 << "of" << parts << "parts," << bytes.size() << "of" << total << "bytes";
            return std::nullopt;
        }
        return bytes;
    }

    bool opsAfter(std::int64_t wallId, std::uint64_t afterSeq, int limit,
                  std::vector<pb::Op> *out) override
    {
        QSqlQuery q(m_db);
        q.setForwardOnly(true);
        q.prepare(QStringLiteral("SELECT body FROM ops WHERE wall_id = ? AND seq > ? ORDER BY seq LIMIT ?"));
        q.addBindValue(qint64(wallId));
        q.addBindValue(qulonglong(afterSeq));
        q.addBindValue(limit);
        return readOps(q, out);
    }

    bool chatBefore(std::int64_t wallId, std::uint64_t beforeSeq, int limit,
                    std::vector<pb::Op> *out) override
    {
        QSqlQuery q(m_db);
        q.setForwardOnly(true);
        q.prepare(QStringLiteral("SELECT body FROM ops WHERE wall_id = ? AND kind = ? AND seq < ? "
                                 "ORDER BY seq DESC LIMIT ?"));
        q.addBindValue(qint64(wallId));
        q.addBindValue(int(pb::Op::kChat));
        q.addBindValue(beforeSeq == 0 ? std::numeric_limits<qint64>::max() : qint64(beforeSeq));
        q.addBindValue(limit);
        return readOps(q, out);
    }

    bool chatAfter(std::int64_t wallId, std::uint64_t afterSeq, int limit,
                   std::vector<pb::Op> *out) override
    {
        QSqlQuery q(m_db);
        q.setForwardOnly(true);
        q.prepare(QStringLiteral("SELECT body FROM ops WHERE wall_id = ? AND kind = ? AND seq > ? "
                                 "ORDER BY seq LIMIT ?"));
        q.addBindValue(qint64(wallId));
        q.addBindValue(int(pb::Op::kChat));
        q.addBindValue(qulonglong(afterSeq));
        q.addBindValue(limit);
        return readOps(q, out);
    }

    std::optional<pb::Op> findOp(std::int64_t wallId, std::uint64_t author,
                                 std::uint64_t clientOpId) override
    {
        QSqlQuery head(m_db);
        head.prepare(QStringLiteral("SELECT client_op_id, seq FROM client_heads WHERE wall_id = ? AND author = ?"));
        head.addBindValue(qint64(wallId));
        head.addBindValue(qulonglong(author));
        if (!exec(head) || !head.next() || head.value(0).toULongLong() < clientOpId)
            return std::nullopt;
        const std::uint64_t newest = head.value(1).toULongLong();
        // Newest first through the primary key: an outbox resends what was in flight, so the op
        // is nearly always the author's newest or a few before it.
        QSqlQuery q(m_db);
        q.setForwardOnly(true);
        q.prepare(QStringLiteral("SELECT body FROM ops WHERE wall_id = ? AND seq <= ? AND seq > ? "
                                 "AND author = ? AND client_op_id = ? ORDER BY seq DESC LIMIT 1"));
        q.addBindValue(qint64(wallId));
        q.addBindValue(qulonglong(newest));
        q.addBindValue(qulonglong(newest > std::uint64_t(limits::kResendLookbackOps)
                                      ? newest - std::uint64_t(limits::kResendLookbackOps)
                                      : 0));
        q.addBindValue(qulonglong(author));
        q.addBindValue(qulonglong(clientOpId));
        std::vector<pb::Op> ops;
        if (!readOps(q, &ops) || ops.empty())
            return std::nullopt;
        return ops.front();
    }

    std::vector<std::pair<std::uint64_t, std::uint64_t>> lastClientOpIds(std::int64_t wallId) override
    {
        std::vector<std::pair<std::uint64_t, std::uint64_t>> out;
        QSqlQuery q(m_db);
        q.prepare(QStringLiteral("SELECT author, client_op_id FROM client_heads WHERE wall_id = ? AND author != 0"));
        q.addBindValue(qint64(wallId));
        if (!exec(q))
            return out;
        while (q.next())
            out.emplace_back(q.value(0).toULongLong(), q.value(1).toULongLong());
        return out;
    }

    std::optional<WallAccess> wallAccess(std::int64_t wallId) override
    {
        QSqlQuery q(m_db);
        q.prepare(QStringLiteral("SELECT owner_user, owner_token_hash, password_hash, password_salt, "
                                 "password_iterations, api_token, locked, protected_work FROM wall_access WHERE "
                                 "wall_id = ?"));
        q.addBindValue(qint64(wallId));
        if (!exec(q) || !q.next())
            return std::nullopt;
        WallAccess a;
        a.ownerUser = q.value(0).toULongLong();
        a.ownerTokenHash = q.value(1).toByteArray();
        a.passwordHash = q.value(2).toByteArray();
        a.passwordSalt = q.value(3).toByteArray();
        a.passwordIterations = q.value(4).toInt();
        a.apiTokenHash = q.value(5).toByteArray();
        a.locked = q.value(6).toInt() != 0;
        a.protectedWork = q.value(7).toInt() != 0;
        return a;
    }

    bool saveWallAccess(std::int64_t wallId, const WallAccess &a) override
    {
        QSqlQuery q(m_db);
        q.prepare(QStringLiteral("INSERT OR REPLACE INTO wall_access (wall_id, owner_user, "
                                 "owner_token_hash, password_hash, password_salt, "
                                 "password_iterations, api_token, locked, protected_work) VALUES (?,?,?,?,?,?,?,?,?)"));
        q.addBindValue(qint64(wallId));
        q.addBindValue(qulonglong(a.ownerUser));
        q.addBindValue(a.ownerTokenHash);
        q.addBindValue(a.passwordHash);
        q.addBindValue(a.passwordSalt);
        q.addBindValue(a.passwordIterations);
        // A wall without an owner has no API token: an empty value, not NULL (the column is
        // NOT NULL, and QtSql binds a null QByteArray as NULL).
        q.addBindValue(a.apiTokenHash.isNull() ? QByteArray("") : a.apiTokenHash);
        q.addBindValue(a.locked ? 1 : 0);
        q.addBindValue(a.protectedWork ? 1 : 0);
        return exec(q);
    }

    std::vector<std::pair<std::uint64_t, int>> roles(std::int64_t wallId) override
    {
        std::vector<std::pair<std::uint64_t, int>> out;
        QSqlQuery q(m_db);
        q.prepare(QStringLiteral("SELECT user_id, role FROM wall_roles WHERE wall_id = ?"));
        q.addBindValue(qint64(wallId));
        if (!exec(q))
            return out;
        while (q.next())
            out.emplace_back(q.value(0).toULongLong(), q.value(1).toInt());
        return out;
    }

    bool setRole(std::int64_t wallId, std::uint64_t user, int role) override
    {
        QSqlQuery q(m_db);
        if (role == 0) {
            q.prepare(QStringLiteral("DELETE FROM wall_roles WHERE wall_id = ? AND user_id = ?"));
            q.addBindValue(qint64(wallId));
            q.addBindValue(qulonglong(user));
        } else {
            q.prepare(QStringLiteral("INSERT OR REPLACE INTO wall_roles (wall_id, user_id, role) "
                                     "VALUES (?,?,?)"));
            q.addBindValue(qint64(wallId));
            q.addBindValue(qulonglong(user));
            q.addBindValue(role);
        }
        return exec(q);
    }

    bool deleteWall(std::int64_t wallId) override
    {
        if (!m_db.transaction()) {
            fail(m_db.lastError().text());
            return false;
        }
        for (const char *table : {"ops", "client_heads", "snapshots", "snapshot_heads",
                                  "snapshot_parts", "wall_access", "wall_roles", "wall_kicks"}) {
            QSqlQuery q(m_db);
            q.prepare(QStringLiteral("DELETE FROM %1 WHERE wall_id = ?").arg(QLatin1String(table)));
            q.addBindValue(qint64(wallId));
            if (!exec(q)) {
                m_db.rollback();
                return false;
            }
        }
        QSqlQuery q(m_db);
        // The wall's images go with it (a later wall may get the same id, and must not inherit
        // them), and so do the bytes no other wall uses. The tables are the image store's
        // (server/imagestore.cpp), in this same file when the server runs one.
        q.prepare(QStringLiteral("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'wall_images'"));
        if (!exec(q)) {
            m_db.rollback();
            return false;
        }
        if (q.next()) {
            q.prepare(QStringLiteral("DELETE FROM wall_images WHERE wall_id = ?"));
            q.addBindValue(qint64(wallId));
            if (!exec(q) || !exec(q, QStringLiteral("DELETE FROM image_blobs WHERE hash NOT IN "
                                                    "(SELECT hash FROM wall_images)"))) {
                m_db.rollback();
                return false;
            }
        }
        q.prepare(QStringLiteral("DELETE FROM walls WHERE id = ?"));
        q.addBindValue(qint64(wallId));
        if (!exec(q) || !m_db.commit()) {
            fail(m_db.lastError().text());
            m_db.rollback();
            return false;
        }
        return true;
    }

    std::optional<std::vector<StoredKick>> kicks(std::int64_t wallId, qint64 nowMs) override
    {
        QSqlQuery q(m_db);
        q.prepare(QStringLiteral("DELETE FROM wall_kicks WHERE wall_id = ? AND until_ms <= ?"));
        q.addBindValue(qint64(wallId));
        q.addBindValue(nowMs);
        if (!exec(q))
            return std::nullopt;
        q.prepare(QStringLiteral("SELECT user_id, address, until_ms FROM wall_kicks WHERE wall_id = ?"));
        q.addBindValue(qint64(wallId));
        if (!exec(q))
            return std::nullopt;
        std::vector<StoredKick> out;
        while (q.next())
            out.push_back({q.value(0).toULongLong(), q.value(1).toString(), q.value(2).toLongLong()});
        return out;
    }

    bool saveKick(std::int64_t wallId, const StoredKick &kick) override
    {
        QSqlQuery q(m_db);
        q.prepare(QStringLiteral("INSERT OR REPLACE INTO wall_kicks (wall_id, user_id, address, "
                                 "until_ms) VALUES (?,?,?,?)"));
        q.addBindValue(qint64(wallId));
        q.addBindValue(qulonglong(kick.user));
        q.addBindValue(kick.address.isEmpty() ? QStringLiteral("") : kick.address); // never NULL
        q.addBindValue(kick.untilMs);
        return exec(q);
    }

    // The users table keeps the SHA-256 of each resume token in its `token` column.
    std::optional<std::uint64_t> findUser(const QByteArray &token) override
    {
        QSqlQuery q(m_db);
        q.prepare(QStringLiteral("SELECT id FROM users WHERE token = ?"));
        q.addBindValue(sha256(token));
        if (!exec(q))
            return std::nullopt;
        return q.next() ? q.value(0).toULongLong() : 0;
    }

    std::optional<std::uint64_t> createUser(const QByteArray &token) override
    {
        QSqlQuery q(m_db);
        q.prepare(QStringLiteral("INSERT INTO users (token, created_ms) VALUES (?, ?)"));
        q.addBindValue(sha256(token));
        q.addBindValue(QDateTime::currentMSecsSinceEpoch());
        if (!exec(q))
            return std::nullopt;
        return q.lastInsertId().toULongLong();
    }

private:
    bool exec(QSqlQuery &q, const QString &sql = {})
    {
        const bool ok = sql.isEmpty() ? q.exec() : q.exec(sql);
        if (!ok)
            fail(q.lastError().text());
        return ok;
    }

    bool readOps(QSqlQuery &q, std::vector<pb::Op> *out)
    {
        if (!exec(q))
            return false;
        while (q.next()) {
            const QByteArray body = q.value(0).toByteArray();
            pb::Op op;
            if (!op.ParseFromArray(body.constData(), int(body.size()))) {
                qCWarning(lcStorage) << "skipping an unreadable stored op";
                continue;
            }
            out->push_back(std::move(op));
        }
        return true;
    }

    // Databases from before client_heads had an index of every op by author and client op id:
    // its last entry per author fills client_heads, then it goes. Once, in one transaction.
    bool migrateClientIndex()
    {
        QSqlQuery q(m_db);
        if (!exec(q, QStringLiteral("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'ops_client'")))
            return false;
        if (!q.next())
            return true;
        q.finish();
        if (!m_db.transaction()) {
            fail(m_db.lastError().text());
            return false;
        }
        // SQLite takes a bare column (seq) from the row that holds the MAX().
        if (!exec(q, QStringLiteral("INSERT OR REPLACE INTO client_heads (wall_id, author, client_op_id, seq) "
                                    "SELECT wall_id, author, MAX(client_op_id), seq FROM ops "
                                    "WHERE client_op_id > 0 GROUP BY wall_id, author"))
            || !exec(q, QStringLiteral("DROP INDEX ops_client")) || !m_db.commit()) {
            m_db.rollback();
            return false;
        }
        qCInfo(lcStorage) << "moved the exactly-once bookkeeping to client_heads";
        return true;
    }

    // Databases from before tokens were hashed kept resume tokens (users.token) and API tokens
    // (wall_access.api_token) in clear: each is replaced by its SHA-256, so that people keep
    // their identity and scripts their API token. Once, in one transaction, marked done in
    // `migrations` (a hash and a clear token cannot be told apart by looking at them).
    // wall_access gains protected_work. Walls stored before it keep what members could do then
    // (only their own work), so 1 for them; every new record says what it is.
    bool migrateProtectedWork()
    {
        QSqlQuery q(m_db);
        if (!exec(q, QStringLiteral("PRAGMA table_info(wall_access)")))
            return false;
        while (q.next()) {
            if (q.value(1).toString() == QLatin1String("protected_work"))
                return true;
        }
        q.finish();
        return exec(q, QStringLiteral("ALTER TABLE wall_access ADD COLUMN protected_work INTEGER NOT "
                                      "NULL DEFAULT 1"));
    }

    bool migrateClearTokens()
    {
        static const QString kName = QStringLiteral("hashed_tokens");
        QSqlQuery q(m_db);
        q.prepare(QStringLiteral("SELECT 1 FROM migrations WHERE name = ?"));
        q.addBindValue(kName);
        if (!exec(q))
            return false;
        if (q.next())
            return true;
        q.finish();
        if (!m_db.transaction()) {
            fail(m_db.lastError().text());
            return false;
        }
        int users = 0;
        int walls = 0;
        const bool ok = hashColumn(QStringLiteral("users"), QStringLiteral("id"),
                                   QStringLiteral("token"), &users)
                     && hashColumn(QStringLiteral("wall_access"), QStringLiteral("wall_id"),
                                   QStringLiteral("api_token"), &walls)
                     && [&] {
                            QSqlQuery mark(m_db);
                            mark.prepare(QStringLiteral("INSERT INTO migrations (name) VALUES (?)"));
                            mark.addBindValue(kName);
                            return exec(mark);
                        }();
        if (!ok || !m_db.commit()) {
            if (ok)
                fail(m_db.lastError().text());
            m_db.rollback();
            return false;
        }
        if (users || walls)
            qCInfo(lcStorage) << "replaced" << users << "resume tokens and" << walls
                              << "API tokens stored in clear by their hashes";
        return true;
    }

    bool hashColumn(const QString &table, const QString &key, const QString &column, int *count)
    {
        QSqlQuery read(m_db);
        read.setForwardOnly(true);
        if (!exec(read, QStringLiteral("SELECT %1, %2 FROM %3").arg(key, column, table)))
            return false;
        std::vector<std::pair<qint64, QByteArray>> rows;
        while (read.next())
            rows.emplace_back(read.value(0).toLongLong(), read.value(1).toByteArray());
        read.finish();
        QSqlQuery write(m_db);
        write.prepare(QStringLiteral("UPDATE %1 SET %2 = ? WHERE %3 = ?").arg(table, column, key));
        for (const auto &[id, clear] : rows) {
            if (clear.isEmpty())
                continue; // no token: stays none (a hash of nothing would match an empty one)
            write.bindValue(0, sha256(clear));
            write.bindValue(1, id);
            if (!exec(write))
                return false;
        }
        *count = int(rows.size());
        return true;
    }


    void fail(const QString &error)
    {
        m_lastError = error;
        qCWarning(lcStorage) << "database error:" << error;
    }

    QString m_dataDir;
    QString m_connection;
    QSqlDatabase m_db;
    QString m_lastError;
    std::unique_ptr<Checkpointer> m_checkpointer;
    std::unique_ptr<Committer> m_committer;
};

} // namespace

std::unique_ptr<Storage> makeSqliteStorage(const QString &dataDir)
{
    return std::make_unique<SqliteStorage>(dataDir);
}

} // namespace scrawl
