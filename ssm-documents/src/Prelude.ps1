# beacon-proxy: runs on Windows PowerShell 5.1 (what SSM Run Command uses on a beacon) and PowerShell 7.
Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$script:BpLayerError = $null
$script:BpStep = 'start'
$script:BpPassword = $null
# TLS 1.2 for every HTTPS call (.NET Framework 4.6.2 may default to TLS 1.0/1.1, which AWS and FNMS refuse).
[Net.ServicePointManager]::SecurityProtocol = [Net.ServicePointManager]::SecurityProtocol -bor [Net.SecurityProtocolType]::Tls12
# Windows PowerShell 5.1 serialises arrays as {"value":[...],"Count":n} while this type data is present.
if ($PSVersionTable.PSVersion.Major -lt 6) { Remove-TypeData -TypeName System.Array -ErrorAction SilentlyContinue }
