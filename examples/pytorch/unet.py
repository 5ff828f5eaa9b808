import argparse
import convprop as torch
import convprop.nn as nn
import convprop.optim as optim
from convprop.data import load_dataset


def double_conv(in_channels, out_channels):
    # two 3x3 convolutions that keep the size, each followed by batch norm and ReLU
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


def up(in_channels, out_channels, bilinear):
    # double the height and width, halve the channels
    if bilinear:
        return nn.Sequential(nn.Upsample(scale_factor=2, mode='bilinear', align_corners=False),
                             nn.Conv2d(in_channels, out_channels, 1))
    return nn.ConvTranspose2d(in_channels, out_channels, 2, stride=2)


class UNet(nn.Module):
    def __init__(self, in_channels=1, classes=1, width=16, bilinear=False):
        super(UNet, self).__init__()
        self.pool = nn.MaxPool2d(2)
        self.down1 = double_conv(in_channels, width)      # width x 28 x 28
        self.down2 = double_conv(width, width * 2)        # 2width x 14 x 14
        self.bottom = double_conv(width * 2, width * 4)   # 4width x 7 x 7
        self.up2 = up(width * 4, width * 2, bilinear)     # 2width x 14 x 14
        self.conv2 = double_conv(width * 4, width * 2)    # after the skip from down2
        self.up1 = up(width * 2, width, bilinear)         # width x 28 x 28
        self.conv1 = double_conv(width * 2, width)        # after the skip from down1
        self.out = nn.Conv2d(width, classes, 1)

    def forward(self, x):
        x1 = self.down1(x)
        x2 = self.down2(self.pool(x1))
        x = self.bottom(self.pool(x2))
        x = self.conv2(torch.cat([x2, self.up2(x)], dim=1))
        x = self.conv1(torch.cat([x1, self.up1(x)], dim=1))
        return self.out(x)  # logits of "this pixel belongs to the garment"


def train(args, model, device, train_loader, optimizer, criterion, epoch):
    model.train()
    for batch_idx, (data, target) in enumerate(train_loader):
        data, target = data.to(device), target.to(device)
        optimizer.zero_grad()
        output = model(data)
        loss = criterion(output, target)
        loss.backward()
        optimizer.step()
        if batch_idx % args.log_interval == 0:
            print('Train Epoch: {} [{}/{} ({:.0f}%)]\tLoss: {:.6f}'.format(
                epoch, batch_idx * len(data), len(train_loader.dataset),
                100. * batch_idx / len(train_loader), loss.item()))
        if args.dry_run or batch_idx + 1 == args.steps:
            break


def test(model, device, test_loader, criterion):
    model.eval()
    test_loss = 0
    correct = 0
    with torch.no_grad():
        for data, target in test_loader:
            data, target = data.to(device), target.to(device)
            output = model(data)
            test_loss += criterion(output, target).item() * len(data)  # sum up batch loss
            pred = (output > 0).float()  # a logit above 0 is a probability above 1/2
            correct += pred.eq(target).sum().item()

    test_loss /= len(test_loader.dataset)
    pixels = test_loader.dataset[0][1].numel() * len(test_loader.dataset)
    print('\nTest set: Average loss: {:.4f}, Pixel accuracy: {}/{} ({:.1f}%)\n'.format(
        test_loss, int(correct), pixels, 100. * correct / pixels))
    return test_loss


def main():
    parser = argparse.ArgumentParser(description='PyTorch U-Net: garment masks from noisy Fashion-MNIST images')
    parser.add_argument('--batch-size', type=int, default=32, metavar='N',
                        help='input batch size for training (default: 32)')
    parser.add_argument('--test-batch-size', type=int, default=500, metavar='N',
                        help='input batch size for testing (default: 500)')
    parser.add_argument('--epochs', type=int, default=2, metavar='N',
                        help='number of epochs to train (default: 2)')
    parser.add_argument('--lr', type=float, default=1e-3, metavar='LR',
                        help='learning rate (default: 1e-3)')
    parser.add_argument('--width', type=int, default=16, metavar='N',
                        help='channels of the first double convolution (default: 16)')
    parser.add_argument('--bilinear', action='store_true', default=False,
                        help='upsample with nn.Upsample (bilinear) and a 1x1 convolution instead of ConvTranspose2d')
    parser.add_argument('--noise', type=float, default=0.3, metavar='S',
                        help='standard deviation of the Gaussian noise added to the images (default: 0.3)')
    parser.add_argument('--steps', type=int, default=0, metavar='N',
                        help='stop each epoch after N batches (default: 0, the whole epoch)')
    parser.add_argument('--dry-run', action='store_true', default=False,
                        help='quickly check a single pass')
    parser.add_argument('--seed', type=int, default=1, metavar='S',
                        help='random seed (default: 1)')
    parser.add_argument('--log-interval', type=int, default=10, metavar='N',
                        help='how many batches to wait before logging training status')
    parser.add_argument('--save-model', action='store_true', default=False,
                        help='For Saving the current Model')
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

    def transform(images):  # ToTensor() plus noise; the target is the mask of the garment's pixels
        clean = torch.from_numpy(images).float() / 255
        return clean + args.noise * torch.randn_like(clean), (clean > 0.1).float()
    fashion1, fashion2 = load_dataset('fashion-mnist', 'train'), load_dataset('fashion-mnist', 'test')
    dataset1 = torch.utils.data.TensorDataset(*transform(fashion1.images))
    dataset2 = torch.utils.data.TensorDataset(*transform(fashion2.images))
    train_loader = torch.utils.data.DataLoader(dataset1, batch_size=args.batch_size, shuffle=True)
    test_loader = torch.utils.data.DataLoader(dataset2, batch_size=args.test_batch_size)

    model = UNet(width=args.width, bilinear=args.bilinear).to(device)
    criterion = nn.BCEWithLogitsLoss()
    optimizer = optim.Adam(model.parameters(), lr=args.lr)

    for epoch in range(1, args.epochs + 1):
        train(args, model, device, train_loader, optimizer, criterion, epoch)
        test(model, device, test_loader, criterion)

    if args.save_model:
        torch.save(model.state_dict(), "unet.pt")


if __name__ == '__main__':
    main()
