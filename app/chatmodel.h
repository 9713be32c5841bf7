#pragma once

// Chat messages of the wall, oldest first: stored messages ordered by sequence number, then the
// ones of our own still waiting in the outbox ("pending"). Older pages are prepended when the
// server answers a HistoryRequest.

#include "proto/scrawl.pb.h"

#include <QAbstractListModel>
#include <QColor>
#include <QDateTime>
#include <QtQml/qqmlregistration.h>

#include <cstdint>
#include <vector>

namespace scrawl {

class ChatModel : public QAbstractListModel
{
    Q_OBJECT
    QML_ELEMENT
    QML_UNCREATABLE("ChatModel belongs to a WallClient")
    Q_PROPERTY(bool hasMore READ hasMore NOTIFY hasMoreChanged)
    Q_PROPERTY(bool loadingOlder READ loadingOlder NOTIFY loadingOlderChanged)

public:
    // Roles, as QML names them in delegates.
    enum Role {
        AuthorRole = Qt::UserRole + 1, // "author": display name of the writer (QString)
        AuthorColorRole,               // "authorColor": the writer's colour (QColor)
        TextRole,                      // "text": the message (QString)
        TimeRole,                      // "time": server time, or local time while pending (QDateTime)
        TimeTextRole,                  // "timeText": "14:03" (QString)
        SeqRole,                       // "seq": wall sequence number, 0 while pending (double)
        MineRole,                      // "mine": written by this client's user (bool)
        PendingRole,                   // "pending": still in the outbox, not stored yet (bool)
    };
    Q_ENUM(Role)

    struct Message
    {
        std::uint64_t seq = 0;
        std::uint64_t clientOpId = 0;
        std::uint64_t author = 0;
        QString authorName;
        QColor authorColor;
        QString text;
        QDateTime time;
        bool mine = false;
        bool pending = false;
    };

    explicit ChatModel(QObject *parent = nullptr);

    int rowCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role) const override;
    QHash<int, QByteArray> roleNames() const override;

    bool hasMore() const { return m_hasMore; }
    bool loadingOlder() const { return m_loadingOlder; }
    // Sequence number of the oldest stored message, 0 if none: the next HistoryRequest's before_seq.
    std::uint64_t oldestSeq() const;
    const Message &at(int row) const { return m_messages[size_t(row)]; }

    void setSelf(std::uint64_t userId) { m_self = userId; }
    // A stored chat op (from a broadcast, a resume or a history page). Ignored when already held.
    void addStored(const pb::Op &op);
    // Replaces the stored messages (a join with a snapshot), keeping pending ones.
    void resetStored(const std::vector<pb::Op> &ops, bool hasMore);
    // Older messages, oldest first, from a History answer.
    void prependHistory(const std::vector<pb::Op> &ops, bool more);
    void setLoadingOlder(bool loading);

    void addPending(std::uint64_t clientOpId, const QString &authorName, QColor color,
                    const QString &text);
    // The pending message was refused: it goes away.
    void removePending(std::uint64_t clientOpId);
    // A pending message that will be sent again under a new client op id.
    void renumberPending(std::uint64_t oldId, std::uint64_t newId);
    void clear();

signals:
    void hasMoreChanged();
    void loadingOlderChanged();

private:
    Message fromOp(const pb::Op &op) const;
    int storedCount() const;

    std::vector<Message> m_messages;
    std::uint64_t m_self = 0;
    bool m_hasMore = false;
    bool m_loadingOlder = false;
};

} // namespace scrawl
