#include "app/membersmodel.h"

#include "core/protocol.h"

namespace scrawl {

namespace {
QColor rgb(std::uint32_t c) { return QColor::fromRgb(QRgb(0xff000000u | (c & 0xffffffu))); }
} // namespace

MembersModel::MembersModel(QObject *parent)
    : QAbstractListModel(parent)
{
}

int MembersModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_members.size());
}

QVariant MembersModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const Member &m = m_members[size_t(index.row())];
    switch (role) {
    case Qt::DisplayRole:
    case NameRole: return m.name;
    case UserIdRole: return QString::number(m.userId);
    case ColorRole: return m.color;
    case IsSelfRole: return m.userId == m_self;
    case HasCursorRole: return m.hasCursor;
    case CursorXRole: return m.cursor.x();
    case CursorYRole: return m.cursor.y();
    case SelectionRole: return m.selection;
    case RoleRole: return m.role;
    case HasViewRole: return !m.view.isEmpty();
    case PresentingRole: return m.presenting;
    default: return {};
    }
}

QHash<int, QByteArray> MembersModel::roleNames() const
{
    return {{UserIdRole, "userId"},       {NameRole, "name"},         {ColorRole, "color"},
            {IsSelfRole, "isSelf"},       {HasCursorRole, "hasCursor"}, {CursorXRole, "cursorX"},
            {CursorYRole, "cursorY"},
            {SelectionRole, "selection"}, {RoleRole, "role"}, {HasViewRole, "hasView"},
            {PresentingRole, "presenting"}};
}

int MembersModel::rowOf(std::uint64_t userId) const
{
    for (size_t i = 0; i < m_members.size(); ++i) {
        if (m_members[i].userId == userId)
            return int(i);
    }
    return -1;
}

const MembersModel::Member *MembersModel::find(std::uint64_t userId) const
{
    const int row = rowOf(userId);
    return row < 0 ? nullptr : &m_members[size_t(row)];
}

void MembersModel::setSelf(std::uint64_t userId)
{
    if (m_self == userId)
        return;
    m_self = userId;
    if (!m_members.empty())
        emit dataChanged(index(0), index(rowCount() - 1), {IsSelfRole});
}

void MembersModel::reset(const std::vector<pb::Member> &members)
{
    beginResetModel();
    std::vector<Member> old;
    old.swap(m_members);
    for (const pb::Member &in : members) {
        if (const int row = rowOf(in.user_id()); row >= 0) {
            ++m_members[size_t(row)].sessions;
            continue;
        }
        Member m;
        m.userId = in.user_id();
        m.name = fromWire(in.name());
        m.color = rgb(in.color());
        m.role = int(in.role());
        // Keep where their pointer was, so a reconnect does not make cursors blink.
        for (const Member &o : old) {
            if (o.userId == m.userId) {
                m.hasCursor = o.hasCursor;
                m.cursor = o.cursor;
            }
        }
        m_members.push_back(std::move(m));
    }
    endResetModel();
}

void MembersModel::setPresence(const pb::Member &in, bool online)
{
    const int row = rowOf(in.user_id());
    if (online) {
        if (row >= 0) {
            Member &m = m_members[size_t(row)];
            ++m.sessions;
            m.name = fromWire(in.name());
            m.color = rgb(in.color());
            m.role = int(in.role());
            emit dataChanged(index(row), index(row), {NameRole, ColorRole, RoleRole});
            return;
        }
        Member m;
        m.userId = in.user_id();
        m.name = fromWire(in.name());
        m.color = rgb(in.color());
        m.role = int(in.role());
        const int at = rowCount();
        beginInsertRows({}, at, at);
        m_members.push_back(std::move(m));
        endInsertRows();
        return;
    }
    if (row < 0)
        return;
    if (--m_members[size_t(row)].sessions > 0)
        return;
    beginRemoveRows({}, row, row);
    m_members.erase(m_members.begin() + row);
    endRemoveRows();
}

void MembersModel::setCursor(std::uint64_t userId, QPointF wallPos, QRectF selection)
{
    const int row = rowOf(userId);
    if (row < 0)
        return; // a cursor may overtake the Presence that announces its owner; the next one lands
    Member &m = m_members[size_t(row)];
    m.cursor = wallPos;
    m.hasCursor = true;
    m.selection = selection;
    emit dataChanged(index(row), index(row), {HasCursorRole, CursorXRole, CursorYRole, SelectionRole});
}

bool MembersModel::setView(std::uint64_t userId, QRectF view, bool presenting)
{
    const int row = rowOf(userId);
    if (row < 0)
        return false;
    Member &m = m_members[size_t(row)];
    if (m.view == view && m.presenting == presenting)
        return false;
    const bool flags = m.view.isEmpty() != view.isEmpty() || m.presenting != presenting;
    m.view = view;
    m.presenting = presenting;
    if (flags)
        emit dataChanged(index(row), index(row), {HasViewRole, PresentingRole});
    return true;
}

void MembersModel::setRole(std::uint64_t userId, int role)
{
    const int row = rowOf(userId);
    if (row < 0 || m_members[size_t(row)].role == role)
        return;
    m_members[size_t(row)].role = role;
    emit dataChanged(index(row), index(row), {RoleRole});
}

void MembersModel::clear()
{
    beginResetModel();
    m_members.clear();
    endResetModel();
}

} // namespace scrawl
