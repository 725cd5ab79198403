# beacon-proxy: runs on Windows PowerShell 5.1 (what SSM Run Command uses on a beacon) and PowerShell 7.
Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$script:BpLayerError = $null
$script:BpStep = 'start'
$script:BpPassword = $null
# Windows PowerShell 5.1 serialises arrays as {"value":[...],"Count":n} while this type data is present.
if ($PSVersionTable.PSVersion.Major -lt 6) { Remove-TypeData -TypeName System.Array -ErrorAction SilentlyContinue }
