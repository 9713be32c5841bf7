#pragma once

// The on-disk copy of a WallClient's outbox: the changes a person made that the server has not
// acknowledged yet, one small file per profile, server and wall in the app's data location.
//
// Why: the outbox is what "nothing you did is lost" rests on. Kept only in memory it died with
// Leave, a switch to another wall, quitting and a crash. The file is rewritten whole, at most
// every kSaveDelayMs while it changes (a stroke's point batches are many ops a second: one write
// covers them all), and through QSaveFile, so a crash leaves the old copy or the new one, never
// half of one. The ops keep their client op ids, so the server answers a resend of one it
// already stored with the stored copy instead of applying it twice.

#include "proto/scrawl.pb.h"

#include <QObject>
#include <QString>
#include <QTimer>

#include <functional>
#include <vector>

namespace scrawl {

class OutboxStore : public QObject
{
    Q_OBJECT

public:
    static constexpr int kSaveDelayMs = 250;

    explicit OutboxStore(QObject *parent = nullptr);
    ~OutboxStore() override;

    // Which outbox this is. An empty profile keeps nothing on disk (tests, two clients in one
    // process). Writes what is pending for the previous key first.
    void setKey(const QString &profile, const QString &host, int port, const QString &wall);
    bool enabled() const { return !m_path.isEmpty(); }
    QString path() const { return m_path; }
    static QString pathFor(const QString &profile, const QString &host, int port, const QString &wall);

    // What is to be written: called when the write happens, not when the change is marked.
    void setSource(std::function<std::vector<pb::Op>()> source) { m_source = std::move(source); }
    // The outbox changed: written within kSaveDelayMs.
    void markChanged();
    // Writes now if anything changed since the last write.
    void flush();

    // The ops kept for the current key, oldest first (empty when there is no file).
    std::vector<pb::Op> load() const;
    static std::vector<pb::Op> loadFile(const QString &path);

signals:
    void saved();

private:
    bool write();

    QString m_path;
    QTimer m_timer;
    bool m_dirty = false;
    std::function<std::vector<pb::Op>()> m_source;
};

} // namespace scrawl
