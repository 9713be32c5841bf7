#pragma once

// Who is on the wall right now, in order of arrival, with their live cursor position (wall
// coordinates). A user connected twice counts once, and leaves when the last session leaves.

#include "proto/scrawl.pb.h"

#include <QAbstractListModel>
#include <QColor>
#include <QPointF>
#include <QRectF>
#include <QtQml/qqmlregistration.h>

#include <cstdint>
#include <vector>

namespace scrawl {

class MembersModel : public QAbstractListModel
{
    Q_OBJECT
    QML_ELEMENT
    QML_UNCREATABLE("MembersModel belongs to a WallClient")

public:
    enum Role {
        UserIdRole = Qt::UserRole + 1, // "userId": the server's id, as text (QString)
        NameRole,                      // "name": display name (QString)
        ColorRole,                     // "color": the person's colour (QColor)
        IsSelfRole,                    // "isSelf": this client's own user (bool)
        HasCursorRole,                 // "hasCursor": a cursor position arrived (bool)
        CursorXRole,                   // "cursorX": wall x of their pointer (double)
        CursorYRole,                   // "cursorY": wall y of their pointer (double)
        SelectionRole,                 // "selection": what they have picked, wall px (QRectF;
                                       // empty for nothing)
        RoleRole,                      // "role": 0 member, 1 moderator, 2 owner (pb::Role)
        HasViewRole,                   // "hasView": where they look is known (bool)
        PresentingRole,                // "presenting": everyone's view follows theirs (bool)
    };
    Q_ENUM(Role)

    struct Member
    {
        std::uint64_t userId = 0;
        QString name;
        QColor color;
        int sessions = 1;
        bool hasCursor = false;
        QPointF cursor;
        QRectF selection;
        int role = 0;
        QRectF view; // the part of the wall they see, wall px (empty: not known)
        bool presenting = false;
    };

    explicit MembersModel(QObject *parent = nullptr);

    int rowCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role) const override;
    QHash<int, QByteArray> roleNames() const override;

    void setSelf(std::uint64_t userId);
    std::uint64_t self() const { return m_self; }
    // The member list of a Joined answer.
    void reset(const std::vector<pb::Member> &members);
    void setPresence(const pb::Member &member, bool online);
    void setCursor(std::uint64_t userId, QPointF wallPos, QRectF selection = {});
    // Where they look and whether they present (pb::Cursor's view and presenting). False when
    // nothing changed.
    bool setView(std::uint64_t userId, QRectF view, bool presenting);
    // A role changed (pb::WallState): shown in the member's row.
    void setRole(std::uint64_t userId, int role);
    void clear();
    const Member *find(std::uint64_t userId) const;
    const Member &at(int row) const { return m_members[size_t(row)]; }

private:
    int rowOf(std::uint64_t userId) const;

    std::vector<Member> m_members;
    std::uint64_t m_self = 0;
};

} // namespace scrawl
