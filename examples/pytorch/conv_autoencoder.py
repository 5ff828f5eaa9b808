import argparse
import convprop as torch
import convprop.nn as nn
import convprop.optim as optim
from convprop.data import load_dataset


class Autoencoder(nn.Module):
    def __init__(self, width=16, code_channels=8):
        super(Autoencoder, self).__init__()
        # encoder: 1 x 28 x 28 -> width x 14 x 14 -> code_channels x 7 x 7 (392 numbers by default, half of 784)
        self.encoder = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1),
            nn.ReLU(True),
            nn.MaxPool2d(2, 2),
            nn.Conv2d(width, code_channels, 3, padding=1),
            nn.ReLU(True),
            nn.MaxPool2d(2, 2),
        )
        # decoder: code_channels x 7 x 7 -> width x 14 x 14 -> 1 x 28 x 28, pixels in (0, 1)
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(code_channels, width, 2, stride=2),
            nn.ReLU(True),
            nn.ConvTranspose2d(width, 1, 2, stride=2),
            nn.Sigmoid(),
        )

    def forward(self, x):
        code = self.encoder(x)
        return self.decoder(code)


def train(args, model, device, train_loader, optimizer, criterion, epoch):
    model.train()
    for batch_idx, (data,) in enumerate(train_loader):
        data = data.to(device)
        optimizer.zero_grad()
        output = model(data)
        loss = criterion(output, data)
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
    with torch.no_grad():
        for (data,) in test_loader:
            data = data.to(device)
            output = model(data)
            test_loss += criterion(output, data).item() * len(data)  # sum up batch loss

    test_loss /= len(test_loader.dataset)
    print('\nTest set: Average reconstruction loss: {:.6f}\n'.format(test_loss))
    return test_loss


def main():
    parser = argparse.ArgumentParser(description='PyTorch convolutional autoencoder on Fashion-MNIST')
    parser.add_argument('--batch-size', type=int, default=64, metavar='N',
                        help='input batch size for training (default: 64)')
    parser.add_argument('--test-batch-size', type=int, default=1000, metavar='N',
                        help='input batch size for testing (default: 1000)')
    parser.add_argument('--epochs', type=int, default=10, metavar='N',
                        help='number of epochs to train (default: 10)')
    parser.add_argument('--lr', type=float, default=1e-3, metavar='LR',
                        help='learning rate (default: 1e-3)')
    parser.add_argument('--width', type=int, default=16, metavar='N',
                        help='channels of the first convolution (default: 16)')
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

    def transform(images):  # ToTensor(): uint8 N x 1 x 28 x 28 -> float in [0, 1]
        return torch.from_numpy(images).float() / 255
    fashion1, fashion2 = load_dataset('fashion-mnist', 'train'), load_dataset('fashion-mnist', 'test')
    dataset1 = torch.utils.data.TensorDataset(transform(fashion1.images))
    dataset2 = torch.utils.data.TensorDataset(transform(fashion2.images))
    train_loader = torch.utils.data.DataLoader(dataset1, batch_size=args.batch_size, shuffle=True)
    test_loader = torch.utils.data.DataLoader(dataset2, batch_size=args.test_batch_size)

    model = Autoencoder(args.width).to(device)
    criterion = nn.MSELoss()
    optimizer = optim.Adam(model.parameters(), lr=args.lr)

    for epoch in range(1, args.epochs + 1):
        train(args, model, device, train_loader, optimizer, criterion, epoch)
        test(model, device, test_loader, criterion)

    if args.save_model:
        torch.save(model.state_dict(), "conv_autoencoder.pt")


if __name__ == '__main__':
    main()
