document.getElementById('app')!.textContent = 'cifar-mlp dashboard';
