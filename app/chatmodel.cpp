#include "app/chatmodel.h"

#include "core/protocol.h"

#include <algorithm>

namespace scrawl {

namespace {
QColor rgb(std::uint32_t c) { return QColor::fromRgb(QRgb(0xff000000u | (c & 0xffffffu))); }
} // namespace

ChatModel::ChatModel(QObject *parent)
    : QAbstractListModel(parent)
{
}

int ChatModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_messages.size());
}

QVariant ChatModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const Message &m = m_messages[size_t(index.row())];
    switch (role) {
    case Qt::DisplayRole:
    case TextRole: return m.text;
    case AuthorRole: return m.authorName;
    case AuthorColorRole: return m.authorColor;
    case TimeRole: return m.time;
    case TimeTextRole: return m.time.toLocalTime().toString(QStringLiteral("HH:mm"));
    case SeqRole: return double(m.seq);
    case MineRole: return m.mine;
    case PendingRole: return m.pending;
    default: return {};
    }
}

QHash<int, QByteArray> ChatModel::roleNames() const
{
    return {{AuthorRole, "author"},   {AuthorColorRole, "authorColor"}, {TextRole, "text"},
            {TimeRole, "time"},       {TimeTextRole, "timeText"},       {SeqRole, "seq"},
            {MineRole, "mine"},       {PendingRole, "pending"}};
}

int ChatModel::storedCount() const
{
    return int(std::count_if(m_messages.begin(), m_messages.end(),
                             [](const Message &m) { return !m.pending; }));
}

std::uint64_t ChatModel::oldestSeq() const
{
    for (const Message &m : m_messages) {
        if (!m.pending)
            return m.seq;
    }
    return 0;
}

ChatModel::Message ChatModel::fromOp(const pb::Op &op) const
{
    Message m;
    m.seq = op.seq();
    m.clientOpId = op.client_op_id();
    m.author = op.author();
    m.authorName = fromWire(op.chat().author_name());
    if (m.authorName.isEmpty())
        m.authorName = op.author() == 0 ? tr("(via HTTP)") : tr("user %1").arg(op.author());
    m.authorColor = rgb(op.chat().author_color());
    m.text = fromWire(op.chat().text());
    m.time = QDateTime::fromMSecsSinceEpoch(op.time_ms());
    m.mine = m_self != 0 && op.author() == m_self;
    return m;
}

void ChatModel::addStored(const pb::Op &op)
{
    if (!op.has_chat())
        return;
    Message m = fromOp(op);
    int pendingRow = -1;
    if (m.mine) {
        for (size_t i = 0; i < m_messages.size(); ++i) {
            if (m_messages[i].pending && m_messages[i].clientOpId == m.clientOpId)
                pendingRow = int(i);
        }
    }
    const int stored = storedCount();
    const bool held = std::any_of(m_messages.begin(), m_messages.begin() + stored,
                                  [&](const Message &x) { return x.seq == m.seq; });
    // Our own pending copy becomes the stored one in place when that keeps the order, so the
    // view does not jump; otherwise it goes and the stored one is inserted where it belongs.
    if (pendingRow >= 0 && !held && pendingRow == stored
        && (stored == 0 || m_messages[size_t(stored - 1)].seq < m.seq)) {
        m_messages[size_t(pendingRow)] = std::move(m);
        emit dataChanged(index(pendingRow), index(pendingRow));
        return;
    }
    if (pendingRow >= 0) {
        beginRemoveRows({}, pendingRow, pendingRow);
        m_messages.erase(m_messages.begin() + pendingRow);
        endRemoveRows();
    }
    if (held)
        return;
    int row = storedCount();
    while (row > 0 && m_messages[size_t(row - 1)].seq > m.seq)
        --row;
    beginInsertRows({}, row, row);
    m_messages.insert(m_messages.begin() + row, std::move(m));
    endInsertRows();
}

void ChatModel::resetStored(const std::vector<pb::Op> &ops, bool hasMore)
{
    beginResetModel();
    std::vector<Message> pending;
    for (Message &m : m_messages) {
        // A pending message that is among the stored ones was acknowledged meanwhile.
        const bool stored = std::any_of(ops.begin(), ops.end(), [&](const pb::Op &op) {
            return op.author() == m_self && op.client_op_id() == m.clientOpId;
        });
        if (m.pending && !stored)
            pending.push_back(std::move(m));
    }
    m_messages.clear();
    for (const pb::Op &op : ops) {
        if (op.has_chat())
            m_messages.push_back(fromOp(op));
    }
    std::sort(m_messages.begin(), m_messages.end(),
              [](const Message &a, const Message &b) { return a.seq < b.seq; });
    for (Message &m : pending)
        m_messages.push_back(std::move(m));
    endResetModel();
    if (m_hasMore != hasMore) {
        m_hasMore = hasMore;
        emit hasMoreChanged();
    }
}

void ChatModel::prependHistory(const std::vector<pb::Op> &ops, bool more)
{
    const std::uint64_t oldest = oldestSeq();
    std::vector<Message> older;
    for (const pb::Op &op : ops) {
        if (op.has_chat() && (oldest == 0 || op.seq() < oldest))
            older.push_back(fromOp(op));
    }
    std::sort(older.begin(), older.end(),
              [](const Message &a, const Message &b) { return a.seq < b.seq; });
    if (!older.empty()) {
        beginInsertRows({}, 0, int(older.size()) - 1);
        m_messages.insert(m_messages.begin(), std::make_move_iterator(older.begin()),
                          std::make_move_iterator(older.end()));
        endInsertRows();
    }
    if (m_hasMore != more) {
        m_hasMore = more;
        emit hasMoreChanged();
    }
    setLoadingOlder(false);
}

void ChatModel::setLoadingOlder(bool loading)
{
    if (m_loadingOlder == loading)
        return;
    m_loadingOlder = loading;
    emit loadingOlderChanged();
}

void ChatModel::addPending(std::uint64_t clientOpId, const QString &authorName, QColor color,
                           const QString &text)
{
    Message m;
    m.clientOpId = clientOpId;
    m.author = m_self;
    m.authorName = authorName;
    m.authorColor = color;
    m.text = text;
    m.time = QDateTime::currentDateTime();
    m.mine = true;
    m.pending = true;
    const int row = int(m_messages.size());
    beginInsertRows({}, row, row);
    m_messages.push_back(std::move(m));
    endInsertRows();
}

void ChatModel::removePending(std::uint64_t clientOpId)
{
    for (size_t i = 0; i < m_messages.size(); ++i) {
        if (m_messages[i].pending && m_messages[i].clientOpId == clientOpId) {
            beginRemoveRows({}, int(i), int(i));
            m_messages.erase(m_messages.begin() + long(i));
            endRemoveRows();
            return;
        }
    }
}

void ChatModel::renumberPending(std::uint64_t oldId, std::uint64_t newId)
{
    for (Message &m : m_messages) {
        if (m.pending && m.clientOpId == oldId)
            m.clientOpId = newId;
    }
}

void ChatModel::clear()
{
    beginResetModel();
    m_messages.clear();
    endResetModel();
    if (m_hasMore) {
        m_hasMore = false;
        emit hasMoreChanged();
    }
    setLoadingOlder(false);
}

} // namespace scrawl
