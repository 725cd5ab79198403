# The Windows layer: the only code that touches the beacon. Same functions as the fake layer
# (ssm-documents/fake/FakeBeaconLayer.ps1); the module above calls nothing else.
# Registry access uses the 64-bit view so the explicit WOW6432Node paths mean what they say.

$script:BpNative = $null

function Initialize-BpNative {
    if ($null -ne $script:BpNative) { return }
    Add-Type -TypeDefinition @'
using System;
using System.Runtime.InteropServices;
using System.Text;
public static class BeaconProxyNative {
    [StructLayout(LayoutKind.Sequential)] struct LSA_UNICODE_STRING { public ushort Length; public ushort MaximumLength; public IntPtr Buffer; }
    [StructLayout(LayoutKind.Sequential)] struct LSA_OBJECT_ATTRIBUTES { public int Length; public IntPtr RootDirectory; public IntPtr ObjectName; public uint Attributes; public IntPtr SecurityDescriptor; public IntPtr SecurityQualityOfService; }
    [DllImport("advapi32.dll")] static extern uint LsaOpenPolicy(IntPtr system, ref LSA_OBJECT_ATTRIBUTES attributes, uint access, out IntPtr handle);
    [DllImport("advapi32.dll")] static extern uint LsaAddAccountRights(IntPtr policy, byte[] sid, LSA_UNICODE_STRING[] rights, uint count);
    [DllImport("advapi32.dll")] static extern uint LsaRemoveAccountRights(IntPtr policy, byte[] sid, [MarshalAs(UnmanagedType.U1)] bool all, LSA_UNICODE_STRING[] rights, uint count);
    [DllImport("advapi32.dll")] static extern uint LsaEnumerateAccountRights(IntPtr policy, byte[] sid, out IntPtr rights, out uint count);
    [DllImport("advapi32.dll")] static extern uint LsaFreeMemory(IntPtr buffer);
    [DllImport("advapi32.dll")] static extern uint LsaClose(IntPtr handle);
    [DllImport("advapi32.dll")] static extern int LsaNtStatusToWinError(uint status);
    [DllImport("userenv.dll", CharSet = CharSet.Unicode)] public static extern int CreateProfile(string sid, string userName, StringBuilder path, uint size);
    [DllImport("userenv.dll", CharSet = CharSet.Unicode, SetLastError = true)] public static extern bool DeleteProfile(string sid, string path, string computer);
    const uint PolicyAll = 0x00000800 | 0x00000010 | 0x00000001;
    const uint NoRights = 0xC0000034;

    static IntPtr Open() {
        LSA_OBJECT_ATTRIBUTES attributes = new LSA_OBJECT_ATTRIBUTES();
        IntPtr handle;
        Check(LsaOpenPolicy(IntPtr.Zero, ref attributes, PolicyAll, out handle), "LsaOpenPolicy");
        return handle;
    }
    static void Check(uint status, string call) {
        if (status != 0) throw new System.ComponentModel.Win32Exception(LsaNtStatusToWinError(status), call + " failed");
    }
    static LSA_UNICODE_STRING[] Rights(string right) {
        LSA_UNICODE_STRING value = new LSA_UNICODE_STRING();
        value.Buffer = Marshal.StringToHGlobalUni(right);
        value.Length = (ushort)(right.Length * 2);
        value.MaximumLength = (ushort)(right.Length * 2 + 2);
        return new LSA_UNICODE_STRING[] { value };
    }
    public static string[] GetRights(byte[] sid) {
        IntPtr policy = Open();
        try {
            IntPtr buffer; uint count;
            uint status = LsaEnumerateAccountRights(policy, sid, out buffer, out count);
            if (status == NoRights) return new string[0];
            Check(status, "LsaEnumerateAccountRights");
            try {
                string[] result = new string[count];
                int size = Marshal.SizeOf(typeof(LSA_UNICODE_STRING));
                for (int i = 0; i < count; i++) {
                    LSA_UNICODE_STRING item = (LSA_UNICODE_STRING)Marshal.PtrToStructure(new IntPtr(buffer.ToInt64() + i * size), typeof(LSA_UNICODE_STRING));
                    result[i] = Marshal.PtrToStringUni(item.Buffer, item.Length / 2);
                }
                return result;
            } finally { LsaFreeMemory(buffer); }
        } finally { LsaClose(policy); }
    }
    public static void SetRight(byte[] sid, string right, bool grant) {
        IntPtr policy = Open();
        LSA_UNICODE_STRING[] rights = Rights(right);
        try {
            if (grant) Check(LsaAddAccountRights(policy, sid, rights, 1), "LsaAddAccountRights");
            else Check(LsaRemoveAccountRights(policy, sid, false, rights, 1), "LsaRemoveAccountRights");
        } finally { Marshal.FreeHGlobal(rights[0].Buffer); LsaClose(policy); }
    }
}
'@
    $script:BpNative = $true
}

function Get-BpComputerName { return $env:COMPUTERNAME }

# ---------------------------------------------------------------- registry

function Split-BpRegistryPath([string]$Path) {
    if ($Path -match '^HKLM\\(.+)$') { return [ordered]@{ hive = [Microsoft.Win32.RegistryHive]::LocalMachine; key = $Matches[1] } }
    if ($Path -match '^HKU\\(.+)$') { return [ordered]@{ hive = [Microsoft.Win32.RegistryHive]::Users; key = $Matches[1] } }
    throw ('unsupported registry path ' + $Path)
}

function Open-BpRegistryKey([string]$Path, [bool]$Writable, [bool]$Create) {
    $parts = Split-BpRegistryPath $Path
    $base = [Microsoft.Win32.RegistryKey]::OpenBaseKey($parts.hive, [Microsoft.Win32.RegistryView]::Registry64)
    try {
        if ($Create) { return $base.CreateSubKey($parts.key) }
        return $base.OpenSubKey($parts.key, $Writable)
    } finally { $base.Dispose() }
}

function Test-BpRegistryKey([string]$Path) {
    $key = Open-BpRegistryKey $Path $false $false
    if ($null -eq $key) { return $false }
    $key.Dispose()
    return $true
}

function Get-BpRegistryValue([string]$Path, [string]$Name) {
    $key = Open-BpRegistryKey $Path $false $false
    if ($null -eq $key) { return $null }
    try {
        if (@($key.GetValueNames()) -notcontains $Name) { return $null }
        $kind = $key.GetValueKind($Name)
        $data = $key.GetValue($Name, $null, [Microsoft.Win32.RegistryValueOptions]::DoNotExpandEnvironmentNames)
        if ($kind -eq [Microsoft.Win32.RegistryValueKind]::Binary) { $data = [System.Convert]::ToBase64String([byte[]]$data) }
        return [ordered]@{ type = [string]$kind; data = $data }
    } finally { $key.Dispose() }
}

function Set-BpRegistryValue([string]$Path, [string]$Name, [string]$Type, $Data) {
    $key = Open-BpRegistryKey $Path $true $true
    try {
        $kind = [Microsoft.Win32.RegistryValueKind]$Type
        $value = $Data
        if ($kind -eq [Microsoft.Win32.RegistryValueKind]::Binary) { $value = [System.Convert]::FromBase64String([string]$Data) }
        elseif ($kind -eq [Microsoft.Win32.RegistryValueKind]::DWord) { $value = [int]$Data }
        elseif ($kind -eq [Microsoft.Win32.RegistryValueKind]::QWord) { $value = [long]$Data }
        elseif ($kind -eq [Microsoft.Win32.RegistryValueKind]::MultiString) { $value = [string[]]@($Data) }
        $key.SetValue($Name, $value, $kind)
    } finally { $key.Dispose() }
}

function Remove-BpRegistryValue([string]$Path, [string]$Name) {
    $key = Open-BpRegistryKey $Path $true $false
    if ($null -eq $key) { return }
    try { $key.DeleteValue($Name, $false) } finally { $key.Dispose() }
}

function Remove-BpRegistryKeyIfEmpty([string]$Path) {
    $key = Open-BpRegistryKey $Path $false $false
    if ($null -eq $key) { return }
    try { $empty = ($key.ValueCount -eq 0 -and $key.SubKeyCount -eq 0) } finally { $key.Dispose() }
    if (-not $empty) { return }
    $parts = Split-BpRegistryPath $Path
    $base = [Microsoft.Win32.RegistryKey]::OpenBaseKey($parts.hive, [Microsoft.Win32.RegistryView]::Registry64)
    try { $base.DeleteSubKey($parts.key, $false) } finally { $base.Dispose() }
}

# ---------------------------------------------------------------- accounts

function Resolve-BpAccount([string]$Name) {
    $wanted = $Name
    if ($wanted -match '^\.\\(.+)$') { $wanted = $env:COMPUTERNAME + '\' + $Matches[1] }
    if ($wanted -eq 'LocalSystem') { $wanted = 'NT AUTHORITY\SYSTEM' }
    try {
        # The task scheduler may give a principal as a SID: take it as one.
        if ($wanted -match '^S-1-\d+(-\d+)+$') { $sid = New-Object System.Security.Principal.SecurityIdentifier($wanted) }
        else { $sid = (New-Object System.Security.Principal.NTAccount($wanted)).Translate([System.Security.Principal.SecurityIdentifier]) }
        $ntName = $sid.Translate([System.Security.Principal.NTAccount]).Value
        return [ordered]@{ sid = $sid.Value; name = $ntName }
    } catch { return $null }
}

# ADSI method calls, not cmdlets: module logging (event 4103) records cmdlet parameters, a password too.
function New-BpLocalAccount([string]$Name, [string]$Password) {
    $computer = [ADSI]('WinNT://' + $env:COMPUTERNAME + ',computer')
    $user = $computer.Create('User', $Name)
    $user.SetPassword($Password)
    $user.Put('Description', 'FlexNet Beacon service account (beacon-proxy)')
    # ADS_UF_DONT_EXPIRE_PASSWD (0x10000) | ADS_UF_NORMAL_ACCOUNT (0x200)
    $user.Put('UserFlags', 0x10200)
    $user.SetInfo()
}

function Remove-BpLocalAccount([string]$Sid) {
    $name = (New-Object System.Security.Principal.SecurityIdentifier($Sid)).Translate([System.Security.Principal.NTAccount]).Value.Split('\')[-1]
    ([ADSI]('WinNT://' + $env:COMPUTERNAME + ',computer')).Delete('User', $name)
}

function ConvertTo-BpSidBytes([string]$Sid) {
    $identifier = New-Object System.Security.Principal.SecurityIdentifier($Sid)
    $bytes = New-Object byte[] $identifier.BinaryLength
    $identifier.GetBinaryForm($bytes, 0)
    return , $bytes
}

# ---------------------------------------------------------------- rights (LSA) and groups (ADSI)

function Get-BpAccountRights([string]$Sid) {
    Initialize-BpNative
    return @([BeaconProxyNative]::GetRights((ConvertTo-BpSidBytes $Sid)))
}

function Add-BpAccountRight([string]$Sid, [string]$Right) { Initialize-BpNative; [BeaconProxyNative]::SetRight((ConvertTo-BpSidBytes $Sid), $Right, $true) }

function Remove-BpAccountRight([string]$Sid, [string]$Right) { Initialize-BpNative; [BeaconProxyNative]::SetRight((ConvertTo-BpSidBytes $Sid), $Right, $false) }

function Get-BpGroup([string]$GroupSid) {
    $name = (New-Object System.Security.Principal.SecurityIdentifier($GroupSid)).Translate([System.Security.Principal.NTAccount]).Value.Split('\')[-1]
    return [ADSI]('WinNT://' + $env:COMPUTERNAME + '/' + $name + ',group')
}

function Get-BpGroupMembers([string]$GroupSid) {
    $members = @()
    foreach ($member in @((Get-BpGroup $GroupSid).Invoke('Members'))) {
        $bytes = [byte[]]$member.GetType().InvokeMember('objectSid', 'GetProperty', $null, $member, $null)
        $members += (New-Object System.Security.Principal.SecurityIdentifier($bytes, 0)).Value
    }
    return $members
}

function Add-BpGroupMember([string]$GroupSid, [string]$Sid) { (Get-BpGroup $GroupSid).Add('WinNT://' + $Sid) }

function Remove-BpGroupMember([string]$GroupSid, [string]$Sid) { (Get-BpGroup $GroupSid).Remove('WinNT://' + $Sid) }

# ---------------------------------------------------------------- profiles and hives

function Get-BpProfile([string]$Sid) {
    $entry = Get-BpRegistryValue ('HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion\ProfileList\' + $Sid) 'ProfileImagePath'
    if ($null -eq $entry) { return $null }
    return [ordered]@{ path = [Environment]::ExpandEnvironmentVariables([string]$entry.data); loaded = (Test-BpRegistryKey ('HKU\' + $Sid)) }
}

function New-BpProfile([string]$Sid, [string]$Name) {
    Initialize-BpNative
    $path = New-Object System.Text.StringBuilder 260
    $hresult = [BeaconProxyNative]::CreateProfile($Sid, ($Name -split '\\')[-1], $path, 260)
    if ($hresult -ne 0) { throw ('CreateProfile failed: 0x' + $hresult.ToString('X8')) }
}

function Remove-BpProfile([string]$Sid) {
    Initialize-BpNative
    if (-not [BeaconProxyNative]::DeleteProfile($Sid, $null, $null)) { throw ('DeleteProfile failed: ' + [Runtime.InteropServices.Marshal]::GetLastWin32Error()) }
}

function Invoke-BpReg([string[]]$Arguments) {
    # On 5.1, stderr of a native command redirected with 2>&1 throws under ErrorActionPreference Stop.
    $ErrorActionPreference = 'Continue'
    $output = & "$env:SystemRoot\System32\reg.exe" @Arguments 2>&1
    if ($LASTEXITCODE -ne 0) { throw ('reg.exe ' + $Arguments[0] + ' failed: ' + (($output | ForEach-Object { [string]$_ }) -join ' ')) }
}

function Mount-BpUserHive([string]$Sid, [string]$ProfilePath) { Invoke-BpReg @('load', ('HKU\' + $Sid), (Join-Path $ProfilePath 'NTUSER.DAT')) }

function Dismount-BpUserHive([string]$Sid) { Invoke-BpReg @('unload', ('HKU\' + $Sid)) }

# ---------------------------------------------------------------- services

function Get-BpWin32Service([string]$Name) {
    $escaped = $Name.Replace('\', '\\').Replace("'", "\'")
    return Get-CimInstance -ClassName Win32_Service -Filter ("DisplayName='" + $escaped + "' OR Name='" + $escaped + "'") | Select-Object -First 1
}

function Get-BpService([string]$Name) {
    $service = Get-BpWin32Service $Name
    if ($null -eq $service) { return $null }
    return [ordered]@{ name = $service.Name; displayName = $service.DisplayName; startName = $service.StartName; state = $service.State; exitCode = $service.ExitCode }
}

# Win32_Service.Change through a WMI method call: a cmdlet parameter would put the password in module logging.
function Set-BpServiceLogon([string]$Name, [string]$StartName, $Password) {
    $service = Get-BpWin32Service $Name
    $wmi = [System.Management.ManagementObject]('Win32_Service.Name=''' + $service.Name + '''')
    $secret = $null
    if ($null -ne $Password) { $secret = [string]$Password } elseif ($StartName -eq 'LocalSystem') { $secret = '' }
    $outcome = $wmi.Change($null, $null, $null, $null, $null, $null, $StartName, $secret, $null, $null, $null)
    if ($outcome.ReturnValue -ne 0) { throw ('Win32_Service.Change returned ' + $outcome.ReturnValue + ' for ' + $StartName) }
}

# Stop and start only ask; the module waits with a bound (Stop-Service / Start-Service wait without one).
function Get-BpServiceController([string]$Name) {
    Add-Type -AssemblyName System.ServiceProcess
    return (New-Object System.ServiceProcess.ServiceController((Get-BpWin32Service $Name).Name))
}

function Request-BpServiceStop([string]$Name) {
    $controller = Get-BpServiceController $Name
    try { if ($controller.Status -ne [System.ServiceProcess.ServiceControllerStatus]::Stopped) { $controller.Stop() } } finally { $controller.Dispose() }
}

function Request-BpServiceStart([string]$Name) {
    $controller = Get-BpServiceController $Name
    try { $controller.Start() } finally { $controller.Dispose() }
}

# ---------------------------------------------------------------- scheduled tasks

function Find-BpTask([string]$Name) {
    $found = @()
    foreach ($task in @(Get-ScheduledTask -TaskName $Name -ErrorAction SilentlyContinue)) {
        $found += [ordered]@{ path = $task.TaskPath; name = $task.TaskName; userId = $task.Principal.UserId; logonType = [string]$task.Principal.LogonType; runLevel = [string]$task.Principal.RunLevel }
    }
    return $found
}

# Through the Task Scheduler COM API: Set-ScheduledTask -Password would put the password in module logging.
function Set-BpTaskPrincipal([string]$TaskPath, [string]$TaskName, [string]$UserId, [string]$LogonType, [string]$RunLevel, $Password) {
    $scheduler = New-Object -ComObject Schedule.Service
    $scheduler.Connect()
    $folder = $scheduler.GetFolder($TaskPath.TrimEnd('\'))
    if (-not $TaskPath.TrimEnd('\')) { $folder = $scheduler.GetFolder('\') }
    $definition = $folder.GetTask($TaskName).Definition
    # TASK_RUNLEVEL_LUA = 0, TASK_RUNLEVEL_HIGHEST = 1
    $definition.Principal.RunLevel = 0
    if ($RunLevel -eq 'Highest') { $definition.Principal.RunLevel = 1 }
    # TASK_LOGON_PASSWORD = 1, TASK_LOGON_S4U = 2, TASK_LOGON_INTERACTIVE_TOKEN = 3, TASK_LOGON_SERVICE_ACCOUNT = 5
    $logon = @{ Password = 1; S4U = 2; Interactive = 3; ServiceAccount = 5 }[$LogonType]
    if ($null -eq $logon) { throw ('unsupported task logon type ' + $LogonType) }
    $definition.Principal.UserId = $UserId
    $definition.Principal.LogonType = $logon
    $secret = $null
    if ($logon -eq 1 -and $null -ne $Password -and $Password -ne '') { $secret = [string]$Password }
    # TASK_CREATE_OR_UPDATE = 6
    [void]$folder.RegisterTaskDefinition($TaskName, $definition, 6, $UserId, $secret, $logon)
}

# ---------------------------------------------------------------- secrets through the instance role

# Base URLs of IMDS and the AWS endpoints: the real ones, unless a test points them at local stubs.
function Get-BpAwsEndpoint([string]$Name, [string]$Default) {
    if ($env:BEACON_PROXY_TEST_ENDPOINTS) {
        $endpoints = ConvertFrom-BpJson $env:BEACON_PROXY_TEST_ENDPOINTS
        if ($endpoints.Contains($Name)) { return [string]$endpoints[$Name] }
    }
    return $Default
}

# One HTTP call with an explicitly empty proxy: a machine-wide proxy must not catch the script's own AWS
# and IMDS traffic. HttpWebRequest works the same on 5.1 and 7.
function Invoke-BpHttp([string]$Method, [string]$Uri, $Headers, [string]$Body, [int]$TimeoutSeconds, [string]$HostHeader) {
    $request = [System.Net.HttpWebRequest][System.Net.WebRequest]::Create($Uri)
    $request.Method = $Method
    $request.Proxy = $null
    $request.Timeout = $TimeoutSeconds * 1000
    if ($HostHeader) { $request.Host = $HostHeader }
    if ($null -ne $Headers) {
        foreach ($name in @($Headers.Keys)) {
            if ($name -eq 'content-type') { $request.ContentType = [string]$Headers[$name] } else { $request.Headers.Add($name, [string]$Headers[$name]) }
        }
    }
    if ($Body) {
        $bytes = [System.Text.Encoding]::UTF8.GetBytes($Body)
        $stream = $request.GetRequestStream()
        try { $stream.Write($bytes, 0, $bytes.Length) } finally { $stream.Dispose() }
    }
    $response = $null
    try {
        try { $response = $request.GetResponse() }
        catch [System.Net.WebException] { if ($null -eq $_.Exception.Response) { throw }; $response = $_.Exception.Response }
        $reader = New-Object System.IO.StreamReader($response.GetResponseStream(), [System.Text.Encoding]::UTF8)
        try { $text = $reader.ReadToEnd() } finally { $reader.Dispose() }
        return [ordered]@{ status = [int]$response.StatusCode; body = $text }
    } finally { if ($null -ne $response) { $response.Close() } }
}

function Get-BpImdsToken {
    $imds = Get-BpAwsEndpoint 'imds' 'http://169.254.169.254'
    try { $answer = Invoke-BpHttp 'PUT' ($imds + '/latest/api/token') @{ 'X-aws-ec2-metadata-token-ttl-seconds' = '300' } '' 2 '' } catch { return $null }
    if ($answer.status -ne 200) { return $null }
    return $answer.body
}

function Get-BpImdsValue([string]$Token, [string]$Path) {
    $imds = Get-BpAwsEndpoint 'imds' 'http://169.254.169.254'
    $answer = Invoke-BpHttp 'GET' ($imds + '/latest/' + $Path) @{ 'X-aws-ec2-metadata-token' = $Token } '' 5 ''
    if ($answer.status -ne 200) { throw (New-BpError 'SECRET_NOT_FOUND' ('the instance metadata service answered ' + $answer.status + ' for ' + $Path)) }
    return $answer.body
}

# The profile of an AWS shared credentials file (INI), or $null.
function Read-BpSharedCredentials([string]$Path, [string]$ProfileName) {
    $section = $null
    $values = @{}
    foreach ($line in [System.IO.File]::ReadAllLines($Path)) {
        $text = $line.Trim()
        if ($text -match '^\[\s*(.+?)\s*\]$') { $section = $Matches[1]; continue }
        if ($section -eq $ProfileName -and $text -match '^([A-Za-z_]+)\s*=\s*(.*)$') { $values[$Matches[1].ToLowerInvariant()] = $Matches[2].Trim() }
    }
    if (-not $values['aws_access_key_id'] -or -not $values['aws_secret_access_key']) { return $null }
    return [ordered]@{ accessKey = $values['aws_access_key_id']; secretKey = $values['aws_secret_access_key']; token = $values['aws_session_token']; source = 'shared credentials file' }
}

# The credentials the SSM Agent gives the script, in the order the AWS SDKs use: environment, the shared
# credentials file (hybrid mi- nodes and Default Host Management have no instance profile), then IMDSv2.
function Get-BpAwsCredentials {
    if ($env:AWS_ACCESS_KEY_ID -and $env:AWS_SECRET_ACCESS_KEY) {
        return [ordered]@{ accessKey = $env:AWS_ACCESS_KEY_ID; secretKey = $env:AWS_SECRET_ACCESS_KEY; token = $env:AWS_SESSION_TOKEN; source = 'environment' }
    }
    $file = $env:AWS_SHARED_CREDENTIALS_FILE
    if (-not $file -and $env:USERPROFILE) { $file = Join-Path $env:USERPROFILE '.aws\credentials' }
    if ($file -and (Test-Path -LiteralPath $file)) {
        $profileName = 'default'
        if ($env:AWS_PROFILE) { $profileName = $env:AWS_PROFILE }
        $shared = Read-BpSharedCredentials $file $profileName
        if ($null -ne $shared) { return $shared }
    }
    $token = Get-BpImdsToken
    if (-not $token) { throw (New-BpError 'SECRET_NOT_FOUND' 'no AWS credentials: no AWS_* environment, no shared credentials file and no instance metadata; is the SSM Agent registered?') }
    $role = (Get-BpImdsValue $token 'meta-data/iam/security-credentials/').Trim()
    $credentials = ConvertFrom-BpJson (Get-BpImdsValue $token ('meta-data/iam/security-credentials/' + $role))
    return [ordered]@{ accessKey = $credentials.AccessKeyId; secretKey = $credentials.SecretAccessKey; token = $credentials.Token; source = 'instance profile' }
}

# The region of a secret: its ARN, else the agent's environment, else IMDS. A parameter given by name
# on a machine without any of these cannot be located: the request must give its ARN.
function Get-BpAwsRegion([string]$Reference) {
    if ($Reference -match '^arn:[^:]+:[^:]+:([^:]+):') { return $Matches[1] }
    if ($env:AWS_REGION) { return $env:AWS_REGION }
    if ($env:AWS_DEFAULT_REGION) { return $env:AWS_DEFAULT_REGION }
    $token = Get-BpImdsToken
    if ($token) { return (Get-BpImdsValue $token 'meta-data/placement/region').Trim() }
    throw (New-BpError 'SECRET_REGION_UNKNOWN' ('the region of ' + $Reference + ' cannot be known on this machine (no instance metadata, no AWS_REGION); give the parameter as an ARN'))
}

function Invoke-BpAwsJson([string]$Service, [string]$Region, [string]$Target, [string]$Body, $Credentials) {
    $hostName = $Service + '.' + $Region + '.amazonaws.com'
    $headers = New-BpSigV4Headers 'POST' $hostName '/' $Body $Service $Region $Target $Credentials ([DateTime]::UtcNow)
    $headers['content-type'] = 'application/x-amz-json-1.1'
    $base = Get-BpAwsEndpoint 'aws' ('https://' + $hostName)
    $hostHeader = ''
    if ($base -ne ('https://' + $hostName)) { $hostHeader = $hostName }
    $answer = Invoke-BpHttp 'POST' ($base + '/') $headers $Body 20 $hostHeader
    if ($answer.status -ne 200) {
        # Only the AWS error type goes into the message: the body of an error is not ours to print.
        $type = 'unknown error'
        try { $type = ([string](ConvertFrom-BpJson $answer.body).__type).Split('#')[-1] } catch { }
        throw (New-BpError 'SECRET_NOT_FOUND' ($Service + ' answered ' + $answer.status + ' ' + $type + ' (credentials from the ' + $Credentials.source + ')'))
    }
    return ConvertFrom-BpJson $answer.body
}

# The secret as stored (the module picks the password out of it) and its version, through the REST API
# signed with the agent's credentials. No AWS Tools: the same code runs on every beacon and in the tests.
function Get-BpSecret([string]$Reference) {
    $isSecret = $Reference -like 'arn:*:secretsmanager:*'
    $region = Get-BpAwsRegion $Reference
    $credentials = Get-BpAwsCredentials
    if ($isSecret) {
        $answer = Invoke-BpAwsJson 'secretsmanager' $region 'secretsmanager.GetSecretValue' (ConvertTo-BpJson ([ordered]@{ SecretId = $Reference })) $credentials
        return [ordered]@{ value = [string]$answer.SecretString; version = [string]$answer.VersionId }
    }
    $answer = Invoke-BpAwsJson 'ssm' $region 'AmazonSSM.GetParameter' (ConvertTo-BpJson ([ordered]@{ Name = $Reference; WithDecryption = $true })) $credentials
    return [ordered]@{ value = [string]$answer.Parameter.Value; version = [string]$answer.Parameter.Version }
}

function Get-BpBeaconVersion {
    foreach ($root in @('HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall', 'HKLM\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall')) {
        $key = Open-BpRegistryKey $root $false $false
        if ($null -eq $key) { continue }
        try {
            foreach ($name in $key.GetSubKeyNames()) {
                $display = Get-BpRegistryValue ($root + '\' + $name) 'DisplayName'
                if ($null -ne $display -and [string]$display.data -like 'FlexNet Beacon*') {
                    $version = Get-BpRegistryValue ($root + '\' + $name) 'DisplayVersion'
                    if ($null -ne $version) { return [string]$version.data }
                }
            }
        } finally { $key.Dispose() }
    }
    return $null
}

function Get-BpCaptureDirectory { return (Join-Path $env:ProgramData 'BeaconProxy\captures') }

# SYSTEM and Administrators only, not inherited: %ProgramData% lets Users create files and folders.
function New-BpProtectedSecurity([bool]$Directory) {
    if ($Directory) { $security = New-Object System.Security.AccessControl.DirectorySecurity } else { $security = New-Object System.Security.AccessControl.FileSecurity }
    $security.SetAccessRuleProtection($true, $false)
    $inherit = [System.Security.AccessControl.InheritanceFlags]::None
    if ($Directory) { $inherit = [System.Security.AccessControl.InheritanceFlags]'ContainerInherit, ObjectInherit' }
    foreach ($sid in @('S-1-5-18', 'S-1-5-32-544')) {
        $identity = New-Object System.Security.Principal.SecurityIdentifier($sid)
        $security.AddAccessRule((New-Object System.Security.AccessControl.FileSystemAccessRule($identity, [System.Security.AccessControl.FileSystemRights]::FullControl, $inherit, [System.Security.AccessControl.PropagationFlags]::None, [System.Security.AccessControl.AccessControlType]::Allow)))
    }
    $security.SetOwner((New-Object System.Security.Principal.SecurityIdentifier('S-1-5-32-544')))
    return $security
}

# Creates the capture folder (and its parent) with the protected DACL, or takes back one a user created.
function Initialize-BpCaptureDirectory([string]$Path) {
    foreach ($directory in @((Split-Path -Parent $Path), $Path)) {
        if (-not (Test-Path -LiteralPath $directory)) { [void](New-Item -ItemType Directory -Path $directory -Force) }
        if ($null -ne (Test-BpProtectedPath $directory)) { [System.IO.Directory]::SetAccessControl($directory, (New-BpProtectedSecurity $true)) }
    }
}

function Write-BpProtectedFile([string]$Path, [string]$Text) {
    [System.IO.File]::WriteAllText($Path, $Text, (New-Object System.Text.UTF8Encoding($false)))
    [System.IO.File]::SetAccessControl($Path, (New-BpProtectedSecurity $false))
}

# $null when only SYSTEM and Administrators own and may change $Path; else why not.
function Test-BpProtectedPath([string]$Path) {
    if (Test-Path -LiteralPath $Path -PathType Container) { $security = [System.IO.Directory]::GetAccessControl($Path) } else { $security = [System.IO.File]::GetAccessControl($Path) }
    $trusted = @('S-1-5-18', 'S-1-5-32-544')
    $owner = $security.GetOwner([System.Security.Principal.SecurityIdentifier]).Value
    if ($trusted -notcontains $owner) { return ('owned by ' + $owner) }
    $write = [System.Security.AccessControl.FileSystemRights]'Write, Delete, ChangePermissions, TakeOwnership, DeleteSubdirectoriesAndFiles'
    foreach ($rule in $security.GetAccessRules($true, $true, [System.Security.Principal.SecurityIdentifier])) {
        if ($rule.AccessControlType -ne [System.Security.AccessControl.AccessControlType]::Allow) { continue }
        if (($rule.FileSystemRights -band $write) -ne 0 -and $trusted -notcontains $rule.IdentityReference.Value) { return ($rule.IdentityReference.Value + ' may change it') }
    }
    return $null
}

function Test-BpProtectedFile([string]$Path) {
    $reason = Test-BpProtectedPath (Split-Path -Parent $Path)
    if ($reason) { return ('its folder is ' + $reason) }
    return (Test-BpProtectedPath $Path)
}

function Wait-BpInterval([int]$Seconds) { Start-Sleep -Seconds $Seconds }

# The real layer reads and writes Windows directly: nothing to open or flush around a document.
function Open-BpLayer { }

function Complete-BpLayer { }

# The document lock as the contract names it (the fake gives each modelled beacon its own).
function Get-BpDocumentLock($Contract) { return $Contract }

# A proxy host:port as the beacon reaches it (the fake maps modelled proxy names to local test proxies).
function Get-BpProxyEndpoint([string]$HostPort) { return $HostPort }
