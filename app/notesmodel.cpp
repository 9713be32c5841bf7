#include "app/notesmodel.h"

namespace scrawl {

NotesModel::NotesModel(QObject *parent)
    : QAbstractListModel(parent)
{
}

int NotesModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_notes.size());
}

QVariant NotesModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const Note &n = m_notes[size_t(index.row())];
    switch (role) {
    case KeyRole: return QString::number(n.key);
    case XRole: return n.x;
    case YRole: return n.y;
    case Qt::DisplayRole:
    case TextRole: return n.text;
    case ColorRole: return n.color;
    case MineRole: return n.mine;
    case PendingRole: return n.pending;
    case WidthRole: return n.width;
    case HeightRole: return n.height;
    case LayerRole: return n.layer;
    default: return {};
    }
}

QHash<int, QByteArray> NotesModel::roleNames() const
{
    return {{KeyRole, "noteKey"},     {XRole, "noteX"}, {YRole, "noteY"}, {TextRole, "noteText"},
            {ColorRole, "noteColor"}, {MineRole, "mine"}, {PendingRole, "pending"},
            {WidthRole, "noteWidth"}, {HeightRole, "noteHeight"},
            {LayerRole, "noteLayer"}};
}

int NotesModel::rowOf(std::uint64_t key) const
{
    for (size_t i = 0; i < m_notes.size(); ++i) {
        if (m_notes[i].key == key)
            return int(i);
    }
    return -1;
}

void NotesModel::reset(std::vector<Note> notes)
{
    beginResetModel();
    m_notes = std::move(notes);
    endResetModel();
}

void NotesModel::update(std::uint64_t key, const Note *note)
{
    const int row = rowOf(key);
    if (!note) {
        if (row >= 0) {
            beginRemoveRows({}, row, row);
            m_notes.erase(m_notes.begin() + row);
            endRemoveRows();
        }
        return;
    }
    if (row >= 0) {
        if (m_notes[size_t(row)] == *note)
            return;
        m_notes[size_t(row)] = *note;
        emit dataChanged(index(row), index(row));
        return;
    }
    const int at = rowCount();
    beginInsertRows({}, at, at);
    m_notes.push_back(*note);
    endInsertRows();
}

} // namespace scrawl
