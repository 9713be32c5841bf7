#include "app/imagesmodel.h"

#include <QtMath>

namespace scrawl {

ImagesModel::ImagesModel(QObject *parent)
    : QAbstractListModel(parent)
{
}

int ImagesModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_images.size());
}

QVariant ImagesModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const Image &i = m_images[size_t(index.row())];
    switch (role) {
    case KeyRole: return QString::number(i.key);
    case XRole: return i.x;
    case YRole: return i.y;
    case WidthRole: return i.width;
    case HeightRole: return i.height;
    case MineRole: return i.mine;
    case LoadedRole: return i.loaded;
    case ProgressRole: return i.progress;
    case ErrorRole: return i.error;
    case RotationRole: return qRadiansToDegrees(i.rotation);
    default: return {};
    }
}

QHash<int, QByteArray> ImagesModel::roleNames() const
{
    return {{KeyRole, "imageKey"},     {XRole, "imageX"},           {YRole, "imageY"},
            {WidthRole, "imageWidth"}, {HeightRole, "imageHeight"}, {MineRole, "mine"},
            {LoadedRole, "loaded"},    {ProgressRole, "progress"},  {ErrorRole, "error"},
            {RotationRole, "imageRotation"}};
}

int ImagesModel::rowOf(std::uint64_t key) const
{
    for (size_t i = 0; i < m_images.size(); ++i) {
        if (m_images[i].key == key)
            return int(i);
    }
    return -1;
}

void ImagesModel::reset(std::vector<Image> images)
{
    beginResetModel();
    m_images = std::move(images);
    endResetModel();
}

void ImagesModel::update(std::uint64_t key, const Image *image)
{
    const int row = rowOf(key);
    if (!image) {
        if (row >= 0) {
            beginRemoveRows({}, row, row);
            m_images.erase(m_images.begin() + row);
            endRemoveRows();
        }
        return;
    }
    if (row >= 0) {
        if (m_images[size_t(row)] == *image)
            return;
        m_images[size_t(row)] = *image;
        emit dataChanged(index(row), index(row));
        return;
    }
    const int at = rowCount();
    beginInsertRows({}, at, at);
    m_images.push_back(*image);
    endInsertRows();
}

} // namespace scrawl
